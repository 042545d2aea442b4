package eventlog

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tree writes a few files, one in a subdirectory, under a new directory.
func tree(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "000001.sst"), bytes.Repeat([]byte("sstable "), 40000), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "MANIFEST-000002"), []byte("manifest"), 0o600))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sub", "OPTIONS"), nil, 0o600))
	return dir
}

// files maps each regular file under dir (slash paths) to its bytes.
func files(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	}))
	return out
}

// gzipArchive is the archive of dir as binaries before zstd wrote it.
func gzipArchive(t testing.TB, dir string) []byte {
	t.Helper()
	var zst bytes.Buffer
	require.NoError(t, writeArchive(&zst, dir))
	zr, err := zstd.NewReader(&zst)
	require.NoError(t, err)
	defer zr.Close()
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	require.NoError(t, err)
	_, err = io.Copy(zw, zr)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return gz.Bytes()
}

// TestArchiveFormats: an archive is written as zstd and reads back to the
// same files; gzip archives (earlier binaries' snapshots) read as well;
// anything else, or a damaged stream, fails with an error that names the
// format.
func TestArchiveFormats(t *testing.T) {
	src := tree(t)
	want := files(t, src)
	var zst bytes.Buffer
	require.NoError(t, writeArchive(&zst, src))
	require.True(t, bytes.HasPrefix(zst.Bytes(), zstdMagic), "written as zstd")
	gz := gzipArchive(t, src)

	for name, archive := range map[string][]byte{"zstd": zst.Bytes(), "gzip": gz} {
		t.Run(name, func(t *testing.T) {
			dst := t.TempDir()
			require.NoError(t, readArchive(bytes.NewReader(archive), dst))
			assert.Equal(t, want, files(t, dst))

			// Cut short, or one byte changed in the middle: an error.
			err := readArchive(bytes.NewReader(archive[:len(archive)-9]), t.TempDir())
			require.Error(t, err, "truncated")
			bad := bytes.Clone(archive)
			bad[len(bad)/2] ^= 0x40
			require.Error(t, readArchive(bytes.NewReader(bad), t.TempDir()), "damaged")
		})
	}
	for _, junk := range [][]byte{nil, []byte("PK\x03\x04 a zip"), []byte("\x28\xb5")} {
		err := readArchive(bytes.NewReader(junk), t.TempDir())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "not a zstd or gzip archive")
	}
}

// TestArchiveRefusesEscapesInZstd: the checks on entry names and types
// hold for zstd archives as for gzip ones.
func TestArchiveRefusesEscapesInZstd(t *testing.T) {
	for _, hdr := range []tar.Header{
		{Name: "../escape", Typeflag: tar.TypeReg, Size: 1, Mode: 0o600},
		{Name: "/abs", Typeflag: tar.TypeReg, Size: 1, Mode: 0o600},
		{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"},
	} {
		var buf bytes.Buffer
		zw, err := zstd.NewWriter(&buf)
		require.NoError(t, err)
		tw := tar.NewWriter(zw)
		require.NoError(t, tw.WriteHeader(&hdr))
		if hdr.Size > 0 {
			_, err = tw.Write([]byte("x"))
			require.NoError(t, err)
		}
		require.NoError(t, tw.Close())
		require.NoError(t, zw.Close())
		parent := t.TempDir()
		dst := filepath.Join(parent, "d")
		require.NoError(t, os.Mkdir(dst, 0o700))
		err = readArchive(&buf, dst)
		require.ErrorIs(t, err, ErrUnsafeArchive, hdr.Name)
		assert.Empty(t, files(t, parent), hdr.Name)
	}
}

// FuzzReadArchive: no input makes readArchive panic, and whatever it
// unpacks stays inside the target directory.
func FuzzReadArchive(f *testing.F) {
	src := tree(f)
	var zst bytes.Buffer
	require.NoError(f, writeArchive(&zst, src))
	f.Add(zst.Bytes())
	f.Add(gzipArchive(f, src))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dst := filepath.Join(parent, "d")
		require.NoError(t, os.Mkdir(dst, 0o700))
		_ = readArchive(bytes.NewReader(data), dst)
		for name := range files(t, parent) {
			require.True(t, strings.HasPrefix(name, "d/"), "%q was written outside the target", name)
		}
	})
}
