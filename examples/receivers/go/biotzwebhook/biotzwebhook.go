// Package biotzwebhook verifies Biotz IoT webhook requests with Go's standard library alone.
//
//	body, _ := io.ReadAll(r.Body)
//	err := biotzwebhook.Verify(secret, r.Header.Get(biotzwebhook.Header), body,
//		time.Now(), biotzwebhook.DefaultTolerance)
//
// Always verify the raw body bytes as received, before parsing them: re-serialising the JSON
// changes the bytes and the signature no longer matches.
package biotzwebhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header is the name of the header that carries the signature.
const Header = "Biotz-IoT-Signature"

// DefaultTolerance is how far the signed timestamp may be from the receiver's clock.
const DefaultTolerance = 300 * time.Second

// The codes of VerificationError: each names the rule that failed.
const (
	NoTimestamp               = "no_timestamp"
	MultipleTimestamps        = "multiple_timestamps"
	InvalidTimestamp          = "invalid_timestamp"
	NoSignature               = "no_signature"
	TimestampOutsideTolerance = "timestamp_outside_tolerance"
	NoMatchingSignature       = "no_matching_signature"
)

// VerificationError says why a request is not authentic.
type VerificationError struct {
	Code    string
	Message string
}

func (e *VerificationError) Error() string { return e.Code + ": " + e.Message }

func refuse(code, message string) *VerificationError {
	return &VerificationError{Code: code, Message: message}
}

// ExpectedSignature is the lowercase hex HMAC-SHA256 of "t.body", keyed with the secret exactly
// as shown (whsec_...); t is the timestamp's text as written in the header.
func ExpectedSignature(secret string, t string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(t + "."))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// ParseHeader returns the timestamp, its text as written, and every v1 of a Biotz-IoT-Signature
// header value.
func ParseHeader(header string) (timestamp int64, text string, signatures []string, err error) {
	seenTimestamp := false
	for _, item := range strings.Split(header, ",") {
		key, value, found := strings.Cut(strings.TrimSpace(item), "=")
		if !found {
			continue // empty items and items without '=' are ignored
		}
		switch strings.TrimSpace(key) {
		case "t":
			if seenTimestamp {
				return 0, "", nil, refuse(MultipleTimestamps, "more than one t= item")
			}
			seenTimestamp = true
			text = strings.TrimSpace(value)
			if timestamp, err = parseTimestamp(text); err != nil {
				return 0, "", nil, err
			}
		case "v1":
			signatures = append(signatures, strings.TrimSpace(value))
		}
	}
	if !seenTimestamp {
		return 0, "", nil, refuse(NoTimestamp, "the header has no t= item")
	}
	if len(signatures) == 0 {
		return 0, "", nil, refuse(NoSignature, "the header has no v1= item")
	}
	return timestamp, text, signatures, nil
}

func parseTimestamp(value string) (int64, error) {
	invalid := refuse(InvalidTimestamp, "t= must be whole unix seconds")
	if value == "" {
		return 0, invalid
	}
	for i := 0; i < len(value); i++ {
		if value[i] < '0' || value[i] > '9' {
			return 0, invalid // ParseInt alone would accept a sign
		}
	}
	timestamp, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return 0, invalid
	}
	return timestamp, nil
}

// Verify returns nil if header signs body under secret, with a timestamp within tolerance of
// now; otherwise a *VerificationError whose Code names the failed rule.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	timestamp, text, signatures, err := ParseHeader(header)
	if err != nil {
		return err
	}
	drift := absDiff(now.Unix(), timestamp)
	if drift > uint64(tolerance/time.Second) {
		return refuse(TimestampOutsideTolerance, fmt.Sprintf(
			"t=%d is %ds from now, more than %s", timestamp, drift, tolerance))
	}
	// The signature covers t exactly as written in the header (leading zeros included).
	expected := []byte(ExpectedSignature(secret, text, body))
	// Compare every candidate, so the time taken does not depend on which one matched.
	matched := false
	for _, signature := range signatures {
		if hmac.Equal([]byte(signature), expected) {
			matched = true
		}
	}
	if !matched {
		return refuse(NoMatchingSignature, "no v1 matches this body and secret")
	}
	return nil
}

func absDiff(a, b int64) uint64 {
	if a > b {
		return uint64(a) - uint64(b)
	}
	return uint64(b) - uint64(a)
}
