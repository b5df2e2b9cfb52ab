package db

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Ciphertext layout: 1 byte format (1) | 4 bytes key id | 12 bytes nonce | sealed data.
// The key id is the first 4 bytes of SHA-256 of the key, so a value names the key that
// sealed it and old keys can stay in the ring while values are re-encrypted (rotation).
const cipherFormat = 1

// ErrUnknownKey means a value was sealed with a key the ring does not have: the
// CREDENTIALS_KEY was changed without keeping the old one in CREDENTIALS_KEY_PREVIOUS.
var ErrUnknownKey = errors.New("credential was encrypted with a key that is not configured (was CREDENTIALS_KEY changed? put the old one in CREDENTIALS_KEY_PREVIOUS)")

// Cipher seals and opens credential values with AES-256-GCM. The value's owner (user id
// and key name) is bound in as additional data, so a value copied to another row does
// not open.
type Cipher struct {
	current [4]byte
	aeads   map[[4]byte]cipher.AEAD
}

// ParseKey decodes a 32-byte key given as base64 (standard or URL, padded or not) or hex.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, dec := range []func(string) ([]byte, error){
		base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString, hex.DecodeString,
	} {
		if b, err := dec(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errors.New("must be 32 random bytes, base64- or hex-encoded (make one with: openssl rand -base64 32)")
}

// NewCipher makes a cipher that seals with current and also opens values sealed with
// any of previous.
func NewCipher(current []byte, previous ...[]byte) (*Cipher, error) {
	c := &Cipher{aeads: map[[4]byte]cipher.AEAD{}}
	for i, k := range append([][]byte{current}, previous...) {
		if len(k) != 32 {
			return nil, fmt.Errorf("credentials key %d: need 32 bytes, got %d", i, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := keyID(k)
		if i == 0 {
			c.current = id
		}
		c.aeads[id] = aead
	}
	return c, nil
}

func keyID(k []byte) [4]byte {
	sum := sha256.Sum256(k)
	return [4]byte(sum[:4])
}

// Seal encrypts plaintext for the given owner.
func (c *Cipher) Seal(plaintext, owner string) ([]byte, error) {
	out := make([]byte, 1+4+12, 1+4+12+len(plaintext)+16)
	out[0] = cipherFormat
	copy(out[1:5], c.current[:])
	if _, err := rand.Read(out[5:17]); err != nil {
		return nil, err
	}
	return c.aeads[c.current].Seal(out, out[5:17], []byte(plaintext), []byte(owner)), nil
}

// Open decrypts a value sealed for owner.
func (c *Cipher) Open(sealed []byte, owner string) (string, error) {
	if len(sealed) < 1+4+12+16 || sealed[0] != cipherFormat {
		return "", errors.New("credential ciphertext is malformed")
	}
	aead, ok := c.aeads[[4]byte(sealed[1:5])]
	if !ok {
		return "", ErrUnknownKey
	}
	plain, err := aead.Open(nil, sealed[5:17], sealed[17:], []byte(owner))
	if err != nil {
		return "", errors.New("credential ciphertext does not open: it was altered or belongs to another row")
	}
	return string(plain), nil
}

// NeedsRotation reports whether sealed was made with a key other than the current one.
func (c *Cipher) NeedsRotation(sealed []byte) bool {
	return len(sealed) >= 5 && [4]byte(sealed[1:5]) != c.current
}
