package testutil

import "github.com/grantlog/grantlog/internal/dataset"

// Shape is dataset.Shape, for tests and benchmarks.
type Shape = dataset.Shape

// Dataset is dataset.Dataset.
type Dataset = dataset.Dataset

// Check is dataset.Check.
type Check = dataset.Check

// Names of generated objects.
var (
	NSName = dataset.NSName
	UserID = dataset.UserID
	RoleID = dataset.RoleID
)

// GenerateDataset builds the events of a dataset with the given shape.
func GenerateDataset(s Shape) *Dataset { return dataset.Generate(s) }
