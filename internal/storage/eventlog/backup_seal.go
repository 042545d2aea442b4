package eventlog

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/crypto/scrypt"
)

// A backup holds the log signing key (a secret) and must not be changed
// unnoticed. Both rest on the operator's passphrase: scrypt derives 64
// bytes from it and a random salt kept in the manifest file; the first 32
// are the AES-256-GCM key that seals the signing key's stream, the last 32
// the HMAC-SHA256 key of the manifest (which holds every file's SHA-256).

// MinPassphrase is the shortest passphrase a backup accepts.
const MinPassphrase = 12

// scrypt cost: N=2^17, r=8, p=1 (~128 MiB, ~0.4 s here): the passphrase
// guards the log signing key, which can forge events and derive keyed
// credentials' secrets, and a backup is not interactive, so the cost is
// above x/crypto's interactive recommendation (2^15). Use a generated
// passphrase (openssl rand -base64 24) rather than a memorable one.
const (
	scryptN = 1 << 17
	scryptR = 8
	scryptP = 1
)

// ErrBackupTampered is returned by restore when a backup's manifest or a
// file does not match: it was changed, damaged, or the passphrase is wrong.
var ErrBackupTampered = errors.New("restore: the backup does not verify")

func checkPassphrase(p []byte) error {
	if len(p) < MinPassphrase {
		return fmt.Errorf("backup: the passphrase must be at least %d bytes (it seals the log signing key in the backup); give a longer one", MinPassphrase)
	}
	return nil
}

// kdf is the manifest file's record of the key derivation.
type kdf struct {
	Algorithm string `json:"algorithm"`
	Salt      string `json:"salt"`
	N         int    `json:"n"`
	R         int    `json:"r"`
	P         int    `json:"p"`
}

const kdfAlgorithm = "scrypt"

func (k kdf) derive(passphrase []byte) (aesKey, macKey []byte, err error) {
	if k.Algorithm != kdfAlgorithm || k.N != scryptN || k.R != scryptR || k.P != scryptP {
		return nil, nil, fmt.Errorf("%w: manifest key derivation %s N=%d r=%d p=%d is not the one this binary uses", ErrBackupTampered, k.Algorithm, k.N, k.R, k.P)
	}
	salt, err := base64.StdEncoding.DecodeString(k.Salt)
	if err != nil || len(salt) < 16 {
		return nil, nil, fmt.Errorf("%w: manifest salt is malformed", ErrBackupTampered)
	}
	dk, err := scrypt.Key(passphrase, salt, k.N, k.R, k.P, 64)
	if err != nil {
		return nil, nil, fmt.Errorf("backup: derive the key: %w", err)
	}
	return dk[:32], dk[32:], nil
}

// manifestFile is manifest.json: the manifest, the key derivation and the
// manifest's HMAC.
type manifestFile struct {
	Manifest json.RawMessage `json:"manifest"`
	KDF      kdf             `json:"kdf"`
	// MAC is the HMAC-SHA256 of Manifest's bytes, base64.
	MAC string `json:"mac"`
}

// sealing holds the keys of one backup: its salt and derived keys.
type sealing struct {
	kdf            kdf
	aesKey, macKey []byte
}

func newSealing(passphrase []byte) (*sealing, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	k := kdf{Algorithm: kdfAlgorithm, Salt: base64.StdEncoding.EncodeToString(salt), N: scryptN, R: scryptR, P: scryptP}
	a, m, err := k.derive(passphrase)
	if err != nil {
		return nil, err
	}
	return &sealing{kdf: k, aesKey: a, macKey: m}, nil
}

// sealAAD binds a sealed file to its purpose.
var sealAAD = []byte("grantlog backup: log signing key stream v1")

// aead is AES-256-GCM under the sealing key.
func (s *sealing) aead() (cipher.AEAD, error) {
	block, err := aes.NewCipher(s.aesKey)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func (s *sealing) seal(plain []byte) ([]byte, error) {
	gcm, err := s.aead()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plain, sealAAD), nil
}

func (s *sealing) open(sealed []byte) ([]byte, error) {
	gcm, err := s.aead()
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, fmt.Errorf("%w: %s is too short", ErrBackupTampered, backupKeyFile)
	}
	plain, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], sealAAD)
	if err != nil {
		return nil, fmt.Errorf("%w: %s does not open with this passphrase", ErrBackupTampered, backupKeyFile)
	}
	return plain, nil
}

func (s *sealing) mac(b []byte) []byte {
	h := hmac.New(sha256.New, s.macKey)
	h.Write(b)
	return h.Sum(nil)
}

// writeManifest writes manifest.json (mode 0600) with the manifest's HMAC.
func writeManifest(dir string, m BackupManifest, s *sealing) error {
	raw, err := json.MarshalIndent(m, "  ", "  ")
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(manifestFile{Manifest: raw, KDF: s.kdf, MAC: base64.StdEncoding.EncodeToString(s.mac(raw))}, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, BackupManifestFile)
	if err := os.WriteFile(path+".tmp", append(out, '\n'), 0o600); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// maxManifest bounds manifest.json.
const maxManifest = 1 << 20

// readManifest reads dir's manifest.json and checks its HMAC under
// passphrase; it returns the manifest and the backup's keys.
func readManifest(dir string, passphrase []byte) (BackupManifest, *sealing, error) {
	var m BackupManifest
	f, err := os.Open(filepath.Join(dir, BackupManifestFile))
	if err != nil {
		return m, nil, fmt.Errorf("restore: %w: is %s a directory grantlog backup wrote? (a backup without %s did not finish)", err, dir, BackupManifestFile)
	}
	defer func() { _ = f.Close() }()
	raw, err := io.ReadAll(io.LimitReader(f, maxManifest+1))
	if err != nil {
		return m, nil, fmt.Errorf("restore: %w", err)
	}
	if len(raw) > maxManifest {
		return m, nil, fmt.Errorf("%w: %s is larger than %s", ErrBackupTampered, BackupManifestFile, sizeOf(maxManifest))
	}
	var mf manifestFile
	if err := json.Unmarshal(raw, &mf); err != nil {
		return m, nil, fmt.Errorf("%w: %s is not JSON: %w", ErrBackupTampered, BackupManifestFile, err)
	}
	a, k, err := mf.KDF.derive(passphrase)
	if err != nil {
		return m, nil, err
	}
	s := &sealing{kdf: mf.KDF, aesKey: a, macKey: k}
	want, err := base64.StdEncoding.DecodeString(mf.MAC)
	if err != nil || !hmac.Equal(want, s.mac(mf.Manifest)) {
		return m, nil, fmt.Errorf("%w: %s does not match its MAC: the passphrase is wrong, or the manifest was changed", ErrBackupTampered, BackupManifestFile)
	}
	if err := json.Unmarshal(mf.Manifest, &m); err != nil {
		return m, nil, fmt.Errorf("%w: %s: %w", ErrBackupTampered, BackupManifestFile, err)
	}
	if m.Format != BackupFormat {
		return m, nil, fmt.Errorf("restore: backup format %d; this binary reads format %d: restore with the Grantlog version that wrote it (%s)", m.Format, BackupFormat, m.GrantlogVersion)
	}
	return m, s, nil
}
