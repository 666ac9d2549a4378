// Command registry is the private image registry of the release suite (npm run test:release): the
// OCI distribution API of go-containerregistry's pkg/registry, behind HTTP basic authentication
// checked against an htpasswd file of bcrypt entries, on the one address it is given (loopback in
// every test).
//
//	registry -addr 127.0.0.1:5000 -htpasswd FILE [-pull-only-users NAME,...]
//	registry -hash < password          prints a bcrypt hash for an htpasswd line
//
// Every request under /v2/ needs a valid user; without one the answer is 401 with a Basic challenge,
// as a real registry gives. Users named in -pull-only-users may only GET and HEAD (the pull Secret's
// user), so a test can show that the credentials the cluster holds cannot push.
// Once listening it prints "registry: listening on http://ADDR".
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/registry"
	"golang.org/x/crypto/bcrypt"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5000", "listen address")
	htpasswd := flag.String("htpasswd", "", "htpasswd file of user:bcrypt-hash lines")
	pullOnly := flag.String("pull-only-users", "", "comma-separated users that may only pull")
	hash := flag.Bool("hash", false, "print a bcrypt hash of the password read from stdin and exit")
	flag.Parse()
	if *hash {
		if err := printHash(os.Stdin, os.Stdout); err != nil {
			log.Fatalf("registry: %v", err)
		}
		return
	}
	if *htpasswd == "" {
		log.Fatal("registry: -htpasswd is required: this registry never serves without authentication")
	}
	users, err := readHtpasswd(*htpasswd)
	if err != nil {
		log.Fatalf("registry: %v", err)
	}
	readers := map[string]bool{}
	for _, u := range strings.Split(*pullOnly, ",") {
		if u != "" {
			readers[u] = true
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("registry: %v", err)
	}
	handler := withBasicAuth(users, readers, registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	fmt.Printf("registry: listening on http://%s\n", ln.Addr())
	log.Fatal(http.Serve(ln, handler))
}

func printHash(in io.Reader, out io.Writer) error {
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return errors.New("empty password on stdin")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, string(h))
	return err
}

// readHtpasswd reads user:hash lines (bcrypt only: $2a$, $2b$ or $2y$), skipping blanks and # comments.
func readHtpasswd(path string) (map[string][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	users := map[string][]byte{}
	s := bufio.NewScanner(f)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, h, ok := strings.Cut(line, ":")
		if !ok || user == "" || !strings.HasPrefix(h, "$2") {
			return nil, fmt.Errorf("%s:%d: want user:bcrypt-hash", path, n)
		}
		users[user] = []byte(h)
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("%s: no users", path)
	}
	return users, nil
}

func withBasicAuth(users map[string][]byte, pullOnly map[string]bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, password, ok := r.BasicAuth()
		h, known := users[user]
		if !ok || !known || bcrypt.CompareHashAndPassword(h, []byte(password)) != nil {
			w.Header().Set("WWW-Authenticate", `Basic realm="coderun-registry"`)
			deny(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
			return
		}
		if pullOnly[user] && r.Method != http.MethodGet && r.Method != http.MethodHead {
			deny(w, http.StatusForbidden, "DENIED", "user "+user+" may only pull")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func deny(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`+"\n", code, message)
}
