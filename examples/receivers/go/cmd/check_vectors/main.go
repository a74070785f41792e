// Command check_vectors checks package biotzwebhook against the vectors produced by the Rust
// signer.
//
// Usage: go run ./cmd/check_vectors [path/to/signature/vectors.json]; exits 1 on any
// disagreement.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/biotz/biotz-iot-webhooks/examples/receivers/go/biotzwebhook"
)

type vectors struct {
	Signing []struct {
		Name      string   `json:"name"`
		Secrets   []string `json:"secrets"`
		Timestamp int64    `json:"timestamp"`
		Body      string   `json:"body"`
		Header    string   `json:"header"`
	} `json:"signing"`
	Verification []struct {
		Name      string  `json:"name"`
		Secret    string  `json:"secret"`
		Header    string  `json:"header"`
		Body      string  `json:"body"`
		Now       int64   `json:"now"`
		Tolerance int64   `json:"tolerance"`
		Error     *string `json:"error"`
	} `json:"verification"`
}

func main() {
	path := filepath.Join("..", "..", "..", "signature", "vectors.json")
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var v vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
		os.Exit(2)
	}

	var failures []string
	for _, c := range v.Signing {
		parts := []string{fmt.Sprintf("t=%d", c.Timestamp)}
		for _, secret := range c.Secrets {
			parts = append(parts, "v1="+biotzwebhook.ExpectedSignature(secret, strconv.FormatInt(c.Timestamp, 10), []byte(c.Body)))
		}
		if header := strings.Join(parts, ","); header != c.Header {
			failures = append(failures, fmt.Sprintf("signing %q: got %s", c.Name, header))
		}
	}
	for _, c := range v.Verification {
		err := biotzwebhook.Verify(c.Secret, c.Header, []byte(c.Body),
			time.Unix(c.Now, 0), time.Duration(c.Tolerance)*time.Second)
		got, want := "<nil>", "<nil>"
		var refused *biotzwebhook.VerificationError
		if errors.As(err, &refused) {
			got = refused.Code
		} else if err != nil {
			got = err.Error()
		}
		if c.Error != nil {
			want = *c.Error
		}
		if got != want {
			failures = append(failures, fmt.Sprintf("verification %q: expected %s, got %s", c.Name, want, got))
		}
	}

	total := len(v.Signing) + len(v.Verification)
	for _, failure := range failures {
		fmt.Println("FAIL", failure)
	}
	fmt.Printf("go: %d/%d vectors agree with biotz-signature\n", total-len(failures), total)
	if len(failures) > 0 {
		os.Exit(1)
	}
}
