package db

import (
	"bytes"
	"errors"
	"testing"
)

func TestCipherRoundTripBindsOwnerAndRotates(t *testing.T) {
	oldKey := bytes.Repeat([]byte{1}, 32)
	newKey := bytes.Repeat([]byte{2}, 32)
	old, err := NewCipher(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := old.Seal("s3cret", "7/db_pass")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("s3cret")) {
		t.Fatal("ciphertext contains the plaintext")
	}
	if v, err := old.Open(sealed, "7/db_pass"); err != nil || v != "s3cret" {
		t.Fatalf("open: %q %v", v, err)
	}
	if _, err := old.Open(sealed, "8/db_pass"); err == nil {
		t.Fatal("a value moved to another row opened")
	}
	rotated, err := NewCipher(newKey, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := rotated.Open(sealed, "7/db_pass"); err != nil || v != "s3cret" || !rotated.NeedsRotation(sealed) {
		t.Fatalf("open with previous key: %q %v", v, err)
	}
	onlyNew, _ := NewCipher(newKey)
	if _, err := onlyNew.Open(sealed, "7/db_pass"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("open without the old key: %v", err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := old.Open(sealed, "7/db_pass"); err == nil {
		t.Fatal("tampered ciphertext opened")
	}
}

func TestParseKeyAcceptsBase64AndHexOf32Bytes(t *testing.T) {
	for _, s := range []string{
		"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
		"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE",
		"0101010101010101010101010101010101010101010101010101010101010101",
	} {
		if k, err := ParseKey(s); err != nil || len(k) != 32 {
			t.Errorf("ParseKey(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "short", "AQEBAQ=="} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) accepted", s)
		}
	}
}

func BenchmarkSealOpen(b *testing.B) {
	c, _ := NewCipher(bytes.Repeat([]byte{1}, 32))
	b.ReportAllocs()
	for b.Loop() {
		s, _ := c.Seal("glsa_0123456789abcdef0123456789abcdef", "1/grafana_api_key")
		if _, err := c.Open(s, "1/grafana_api_key"); err != nil {
			b.Fatal(err)
		}
	}
}
