package index

import (
	"fmt"
	"os"
)

// privateDir creates dir, or makes an existing one (an older version
// created it 0755, and Pebble creates it so too), private to the owner: the
// index holds every grant and token hash. Files in it need no mode of
// their own then.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("index: create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("index: make %s private: %w", dir, err)
	}
	return nil
}
