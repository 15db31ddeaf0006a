package ecomtest

// DocExamples returns the two products of the public "Search products" response example: "Orange" (SKU
// 00099, with a compare-to price) and "Radish" (SKU 00007, disabled, with Size and Color options), here
// with two combinations of the radish (SKUs 00007-S-RED and 00007-L-WHITE) so variants can be exercised.
// Ids are left zero for Seed to assign.
func DocExamples() []Product {
	large := 1.65
	return []Product{
		{
			SKU: "00099", Name: "Orange", Description: "<p>It's a tasty fruit!</p>", Price: 10, CompareToPrice: 23,
			Quantity: 11, Enabled: true, IsShippingRequired: true,
			Attributes:       []Attribute{{Name: "Width", Type: "CUSTOM", Value: "61.47 mm", Show: "DESCR"}},
			OriginalImageURL: "https://dqzrr9k4bjpzk.cloudfront.net/1003/124124125.jpg",
			GalleryImages: []GalleryImage{{URL: "https://dpbfm6h358sh7.cloudfront.net/images/5035009/312058848.jpg"},
				{URL: "https://dpbfm6h358sh7.cloudfront.net/images/5035009/312058850.jpg", OrderBy: 1}},
		},
		{
			SKU: "00007", Name: "Radish", Description: "<h5>Radish</h5>", Price: 1.15, CompareToPrice: 1.34,
			Quantity: 67, Weight: 0.31, Enabled: false, IsShippingRequired: true,
			Options: []Option{
				{Type: "RADIO", Name: "Size", Choices: []Choice{{Text: "Small", PriceModifierType: "ABSOLUTE"},
					{Text: "Large", PriceModifier: 0.5, PriceModifierType: "ABSOLUTE"}}},
				{Type: "SELECT", Name: "Color", Choices: []Choice{{Text: "Red", PriceModifierType: "ABSOLUTE"},
					{Text: "White", PriceModifierType: "ABSOLUTE"}}},
			},
			Combinations: []Combination{
				{SKU: "00007-S-RED", Quantity: 20, Options: []OptionValue{{Name: "Size", Value: "Small"}, {Name: "Color", Value: "Red"}}},
				{SKU: "00007-L-WHITE", Quantity: 0, Price: &large, Options: []OptionValue{{Name: "Size", Value: "Large"}, {Name: "Color", Value: "White"}}},
			},
		},
	}
}
