package ascend

import (
	"encoding/json"
	"fmt"
	"time"
)

// checkpoint records the uploads the last applied run was built from, per location: the full upload first,
// then the inv uploads applied on top of it, oldest first.
type checkpoint struct {
	Version   int                        `json:"version"`
	Locations map[string][]appliedUpload `json:"locations"`
}

// appliedUpload identifies an upload as it was listed when applied. Rows and Header are those of a full
// upload (for the suspect checks of the next one); checkpoints written before they existed lack them.
type appliedUpload struct {
	Name   string    `json:"name"`
	Size   int64     `json:"size"`
	MTime  time.Time `json:"mtime"`
	Rows   int       `json:"rows,omitempty"`
	Header []string  `json:"header,omitempty"`
}

const checkpointVersion = 1

func applied(u upload) appliedUpload {
	return appliedUpload{Name: u.Name, Size: u.Size, MTime: u.MTime.UTC()}
}

func (a appliedUpload) same(u upload) bool {
	return a.Name == u.Name && a.Size == u.Size && a.MTime.Equal(u.MTime)
}

// decodeCheckpoint reads a checkpoint; nil or empty is the empty checkpoint.
func decodeCheckpoint(b []byte) (*checkpoint, error) {
	cp := &checkpoint{Version: checkpointVersion, Locations: map[string][]appliedUpload{}}
	if len(b) == 0 {
		return cp, nil
	}
	if err := json.Unmarshal(b, cp); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if cp.Version != checkpointVersion {
		return nil, fmt.Errorf("checkpoint version %d: this possync reads version %d", cp.Version, checkpointVersion)
	}
	if cp.Locations == nil {
		cp.Locations = map[string][]appliedUpload{}
	}
	return cp, nil
}

func (cp *checkpoint) encode() []byte {
	b, err := json.Marshal(cp)
	if err != nil {
		panic(fmt.Sprintf("ascend: encode checkpoint: %v", err)) // plain strings, numbers and times cannot fail
	}
	return b
}
