#!/usr/bin/env bash
# generate.sh: Kubernetes manifests for many merchants, one CronJob per pipeline file.
#
#   deploy/k8s/many/generate.sh [-i IMAGE] [-n NAMESPACE] [-e EVERY_MINUTES] OUT_DIR PIPELINE_FILE...
#
# OUT_DIR gets:
#   pipelines/<file>    a copy of every pipeline file (the ConfigMap's keys)
#   cronjobs.yaml       one CronJob per pipeline file, named possync-<file name without .yaml>
#   kustomization.yaml  the ConfigMap possync-pipelines (all the files) and the CronJobs: kubectl apply -k OUT_DIR
#
# Every CronJob runs `possync run /etc/possync/pipelines/<file>` every EVERY_MINUTES minutes (default 15),
# starting at a minute derived from its name so that the fleet's runs spread over the interval instead of all
# starting at :00. It reads POSSYNC_STATE_URL from the Secret possync-state (shared by all) and the merchant's
# ${VAR}s from the Secret possync-<name> (one per pipeline file). concurrencyPolicy: Forbid, and the exit-code
# policy of deploy/k8s/single/cronjob.yaml (75 ignored and retried, 2 and 3 fail the Job); docs/deploy.md.
#
# Names: the file name without .yaml, lowercased, characters other than [a-z0-9-] replaced by '-'; at most 44
# characters (CronJob names are limited to 52 with the "possync-" prefix). Two files giving the same name are
# an error.
set -euo pipefail

image=ghcr.io/possync/possync:latest
namespace=possync
every=15
while getopts 'i:n:e:' opt; do
	case "$opt" in
	i) image=$OPTARG ;;
	n) namespace=$OPTARG ;;
	e) every=$OPTARG ;;
	*) sed -n '2,10p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
if [ "$#" -lt 2 ]; then
	sed -n '2,10p' "$0" >&2
	exit 2
fi
if ! [[ "$every" =~ ^[0-9]+$ ]] || [ "$every" -lt 1 ] || [ "$every" -gt 60 ]; then
	echo "generate.sh: -e wants minutes between 1 and 60, got $every" >&2
	exit 2
fi
out=$1
shift
mkdir -p "$out/pipelines"

# Deadline of a Job: the interval minus a minute, so a Job (with its retries of exit 75) ends before the next.
deadline=$(( every * 60 - 60 ))
[ "$deadline" -ge 60 ] || deadline=50

declare -A seen=()
cronjobs="$out/cronjobs.yaml"
: >"$cronjobs"
files=()
for src in "$@"; do
	base=$(basename "$src")
	case "$base" in
	*.yaml | *.yml) ;;
	*) echo "generate.sh: $src: not a .yaml pipeline file" >&2; exit 2 ;;
	esac
	name=${base%.*}
	name=$(printf '%s' "$name" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9-' '-' | sed 's/^-*//; s/-*$//' | cut -c1-44)
	if [ -z "$name" ]; then
		echo "generate.sh: $src: no usable name in the file name" >&2
		exit 2
	fi
	if [ -n "${seen[$name]:-}" ]; then
		echo "generate.sh: $src and ${seen[$name]} both make the CronJob possync-$name: rename one" >&2
		exit 2
	fi
	seen[$name]=$src
	if [ -e "$out/pipelines/$base" ] && ! cmp -s "$src" "$out/pipelines/$base"; then
		echo "generate.sh: $out/pipelines/$base exists and differs from $src" >&2
		exit 2
	fi
	cp "$src" "$out/pipelines/$base"
	files+=("$base")

	# The first minute: a stable hash of the name, within the interval.
	offset=$(( $(printf '%s' "$name" | cksum | cut -d' ' -f1) % every ))
	if [ "$every" -eq 60 ]; then
		schedule="$offset * * * *"
	else
		minutes=$offset
		for (( m = offset + every; m < 60; m += every )); do minutes="$minutes,$m"; done
		schedule="$minutes * * * *"
	fi

	cat >>"$cronjobs" <<YAML
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: possync-$name
  namespace: $namespace
  labels:
    app.kubernetes.io/name: possync
    possync/pipeline: $name
spec:
  schedule: "$schedule"
  timeZone: Etc/UTC
  concurrencyPolicy: Forbid
  startingDeadlineSeconds: 300
  successfulJobsHistoryLimit: 1
  failedJobsHistoryLimit: 3
  jobTemplate:
    spec:
      backoffLimit: 2
      activeDeadlineSeconds: $deadline
      ttlSecondsAfterFinished: 86400
      podFailurePolicy:
        rules:
          - action: Ignore # 75: locked by another run, retry later
            onExitCodes:
              containerName: possync
              operator: In
              values: [75]
          - action: FailJob # 2: invalid configuration, 3: blocked by a guard
            onExitCodes:
              containerName: possync
              operator: In
              values: [2, 3]
          - action: Ignore
            onPodConditions:
              - type: DisruptionTarget
      template:
        metadata:
          labels:
            app.kubernetes.io/name: possync
            possync/pipeline: $name
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 60
          securityContext:
            runAsNonRoot: true
            runAsUser: 10001
            fsGroup: 10001
          containers:
            - name: possync
              image: $image
              args: [run, /etc/possync/pipelines/$base, --log-format, json, --quiet]
              env:
                - name: POSSYNC_STATE_URL
                  valueFrom:
                    secretKeyRef:
                      name: possync-state
                      key: POSSYNC_STATE_URL
                - name: POSSYNC_STATE_DIR
                  value: /var/lib/possync/state
              envFrom:
                - secretRef:
                    name: possync-$name
              resources:
                requests: {cpu: 250m, memory: 512Mi}
                limits: {memory: 2Gi}
              volumeMounts:
                - name: pipelines
                  mountPath: /etc/possync/pipelines
                  readOnly: true
                - name: state
                  mountPath: /var/lib/possync/state
          volumes:
            - name: pipelines
              configMap:
                name: possync-pipelines
            - name: state
              emptyDir: {}
YAML
done

{
	echo "# Generated by deploy/k8s/many/generate.sh: $# pipeline file(s). kubectl apply -k this folder."
	echo "apiVersion: kustomize.config.k8s.io/v1beta1"
	echo "kind: Kustomization"
	echo "namespace: $namespace"
	echo "resources:"
	echo "  - cronjobs.yaml"
	echo "configMapGenerator:"
	echo "  - name: possync-pipelines"
	echo "    files:"
	for f in "${files[@]}"; do echo "      - pipelines/$f"; done
} >"$out/kustomization.yaml"
echo "generate.sh: wrote ${#files[@]} CronJob(s) to $out" >&2
