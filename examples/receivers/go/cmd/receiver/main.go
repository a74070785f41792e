// Command receiver is a minimal Biotz IoT webhook receiver: Go standard library only (net/http).
//
// Run:  BIOTZ_WEBHOOK_SECRET=whsec_... PORT=8000 go run ./cmd/receiver
// Then: POST http://127.0.0.1:$PORT/webhook. It listens on 127.0.0.1 only; Biotz calls https://
// URLs alone, so in production put a TLS-terminating proxy in front of it.
//
// Each request is verified on its raw body bytes before the JSON is parsed, deduplicated on
// Biotz-IoT-Event-Id, answered at once (200, or 400 naming the failed rule) and handled
// afterwards, so slow work never makes Biotz time out and retry.
package main

import (
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/biotz/biotz-iot-webhooks/examples/receivers/go/biotzwebhook"
)

const (
	maxBody      = 1 << 20
	seenCapacity = 10_000
)

// Event is the envelope of every Biotz event.
type Event struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt string          `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// recentIDs holds the ids of the last `capacity` events, oldest forgotten first.
type recentIDs struct {
	mu    sync.Mutex
	ids   map[string]struct{}
	order []string // a ring: next is where the next id goes
	next  int
}

func newRecentIDs(capacity int) *recentIDs {
	return &recentIDs{ids: make(map[string]struct{}, capacity), order: make([]string, capacity)}
}

// add records id and reports whether it was new.
func (r *recentIDs) add(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, seen := r.ids[id]; seen {
		return false
	}
	delete(r.ids, r.order[r.next])
	r.order[r.next] = id
	r.next = (r.next + 1) % len(r.order)
	r.ids[id] = struct{}{}
	return true
}

// handleEvent is where your work goes. It runs after the answer was sent.
func handleEvent(event Event) {
	log.Printf("event %s %s", event.ID, event.Type)
}

type receiver struct {
	secret string
	seen   *recentIDs
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		fail(w, http.StatusMethodNotAllowed, "method_not_allowed", "POST only")
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			fail(w, http.StatusRequestEntityTooLarge, "body_too_large", "over 1 MiB")
		} else {
			fail(w, http.StatusBadRequest, "unreadable_body", err.Error())
		}
		return
	}
	err = biotzwebhook.Verify(rc.secret, r.Header.Get(biotzwebhook.Header), raw,
		time.Now(), biotzwebhook.DefaultTolerance)
	if err != nil {
		var refused *biotzwebhook.VerificationError
		if errors.As(err, &refused) {
			fail(w, http.StatusBadRequest, refused.Code, refused.Message)
		} else {
			fail(w, http.StatusBadRequest, "unverified", err.Error())
		}
		return
	}
	// Only now is the body trusted enough to parse.
	var event Event
	if err := json.Unmarshal(raw, &event); err != nil {
		fail(w, http.StatusBadRequest, "invalid_json", err.Error())
		return
	}
	eventID := r.Header.Get("Biotz-IoT-Event-Id")
	if eventID == "" {
		fail(w, http.StatusBadRequest, "no_event_id", "no Biotz-IoT-Event-Id header")
		return
	}
	if !rc.seen.add(eventID) {
		answer(w, http.StatusOK, map[string]bool{"received": true, "duplicate": true})
		return
	}
	answer(w, http.StatusOK, map[string]bool{"received": true})
	go handleEvent(event)
}

func answer(w http.ResponseWriter, status int, payload any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(payload)
}

func fail(w http.ResponseWriter, status int, code, message string) {
	type problem struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	answer(w, status, map[string]problem{"error": {code, message}})
}

func main() {
	secret := os.Getenv("BIOTZ_WEBHOOK_SECRET")
	if secret == "" {
		log.Fatal("set BIOTZ_WEBHOOK_SECRET to the webhook's secret (whsec_...)")
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8000"
	}
	mux := http.NewServeMux()
	mux.Handle("/webhook", &receiver{secret: secret, seen: newRecentIDs(seenCapacity)})
	server := &http.Server{
		Addr:              "127.0.0.1:" + port,
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
	}
	log.Printf("listening on http://%s/webhook", server.Addr)
	log.Fatal(server.ListenAndServe())
}
