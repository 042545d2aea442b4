package query_test

import (
	"os"
	"testing"
)

var benchDirs []string

// filepathTemp makes a directory for benchmark indexes that outlives one
// benchmark function (b.TempDir would be removed between sub-benchmarks);
// TestMain removes it.
func filepathTemp() (string, error) {
	d, err := os.MkdirTemp("", "grantlog-bench-")
	if err == nil {
		benchDirs = append(benchDirs, d)
	}
	return d, err
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range benchDirs {
		_ = os.RemoveAll(d)
	}
	os.Exit(code)
}
