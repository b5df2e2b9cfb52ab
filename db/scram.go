package db

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"regexp"

	"credential-grafana/cg"
)

// scramIterations and scramSaltLen are PostgreSQL's SCRAM_DEFAULT_ITERATIONS and
// SCRAM_DEFAULT_SALT_LEN (src/include/common/scram-common.h), what psql's \password
// and libpq's PQencryptPasswordConn use.
const (
	scramIterations = 4096
	scramSaltLen    = 16
)

// scramSecretPattern is what scramSecret produces: nothing but the prefix, digits and
// standard base64, so that no quote or backslash can reach a statement.
var scramSecretPattern = regexp.MustCompile(`^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$`)

// CheckRolePassword returns cg.EINVALID if password cannot be a role's password: it
// must be non-empty printable ASCII. SASLprep (RFC 4013), which PostgreSQL and its
// clients apply to a SCRAM password, leaves such a password as it is
// (src/common/saslprep.c returns an ASCII string unchanged), so the secret computed
// here matches what every client sends; other characters would be normalised
// differently by different clients (libpq NFKC, pgx PRECIS).
func CheckRolePassword(password string) error {
	if password == "" {
		return cg.Errorf(cg.EINVALID, "a database password cannot be empty")
	}
	for i := 0; i < len(password); i++ {
		if c := password[i]; c < 0x20 || c > 0x7e {
			return cg.Errorf(cg.EINVALID, "a database password may hold only printable ASCII (letters, digits, space and punctuation): character %d is not; choose another", i+1)
		}
	}
	return nil
}

// scramSecret returns the SCRAM-SHA-256 secret of password, as PostgreSQL stores it in
// pg_authid.rolpassword and as libpq's pg_fe_scram_build_secret computes it
// (src/interfaces/libpq/fe-auth-scram.c, src/common/scram-common.c scram_build_secret):
//
//	SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>
//
// with SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations, 32),
// StoredKey = SHA-256(HMAC(SaltedPassword, "Client Key")) and
// ServerKey = HMAC(SaltedPassword, "Server Key") (RFC 5802 §3), a random 16-byte salt
// and 4096 iterations. The server stores a value in this form as it is, so the
// password itself never reaches a statement or the server's log. password must have
// passed CheckRolePassword.
func scramSecret(password string) (string, error) {
	salt := make([]byte, scramSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("make SCRAM salt: %w", err)
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, scramIterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("derive SCRAM key: %w", err)
	}
	mac := func(msg string) []byte {
		h := hmac.New(sha256.New, salted)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	stored := sha256.Sum256(mac("Client Key"))
	b64 := base64.StdEncoding.EncodeToString
	secret := fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", scramIterations, b64(salt), b64(stored[:]), b64(mac("Server Key")))
	if !scramSecretPattern.MatchString(secret) {
		return "", fmt.Errorf("SCRAM secret has an unexpected form")
	}
	return secret, nil
}
