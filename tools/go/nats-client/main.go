// Command nats-client plays the platform's Go services against a real nats-server, with nats.go
// (the client family the middleware and the executors use). The same source is built at both ends
// of the supported nats.go range: this module pins the oldest (v1.32.0), tools/go/nats-client-latest
// the newest. It reads the environment variables the rendered Deployments and PodTemplates give
// the containers:
//
//	NATS_URL, NATS_CA_FILE, NATS_INBOX_PREFIX                             (every role)
//	NATS_NKEY_SEED                                                        (middleware: its nkey)
//	NATS_QUEUES, NATS_QUEUE_GROUP, NATS_JETSTREAM_REPLICAS                (middleware)
//	NATS_CALLOUT_ISSUER_SEED, NATS_CALLOUT_ACCOUNT, NATS_EXECUTOR_SCOPE,
//	NATS_TICKET_SECONDS                                                   (middleware: the auth callout)
//	NATS_TICKET_FILE, USER_ID, JOB_ID                                     (executor; the middleware sets the
//	                                                                       last two and NATS_INBOX_PREFIX)
//
// Usage:
//
//	nats-client middleware -jobs N   consume jobs from the queues as the queue group; for each,
//	                                 create the user's KV bucket and object store if absent, record
//	                                 the job as Pending and sign its executor's ticket; print one JSON
//	                                 line per job (with the ticket). Answer the auth callout for
//	                                 executors all along. Exit after N jobs, or with -jobs 0 at
//	                                 SIGTERM (draining first)
//	nats-client executor -size B     store B bytes as "<JOB_ID>-output.zip" in USER_ID's object store,
//	                                 then record the job as Done; print one JSON line
//	nats-client try                  read cases (JSON lines: {"name","op","args"}) on stdin, run each
//	                                 with this user's credentials, print {"name","ok","error","ms"}
//	                                 per case
//
// It is test tooling: it exits non-zero on any unexpected error and prints what went wrong.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
)

// Job is what the frontend publishes on a language queue.
type Job struct {
	UserID   string `json:"userId"`
	Language string `json:"language"`
	Code     string `json:"code"`
}

// Record is the job as stored in the user's KV bucket under its id.
type Record struct {
	ID       string `json:"id"`
	UserID   string `json:"userId"`
	Language string `json:"language"`
	Status   string `json:"status"`
	Output   string `json:"output,omitempty"`
}

// asyncErrors collects the errors the server reports asynchronously (permission violations).
type asyncErrors struct {
	mu     sync.Mutex
	errs   []string
	signal chan struct{}
}

func newAsyncErrors() *asyncErrors { return &asyncErrors{signal: make(chan struct{}, 1)} }

func (a *asyncErrors) add(err error) {
	fmt.Fprintf(os.Stderr, "nats-client: asynchronous error: %v\n", err)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.errs = append(a.errs, err.Error())
	select {
	case a.signal <- struct{}{}:
	default:
	}
}

func (a *asyncErrors) take() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.errs
	a.errs = nil
	return out
}

func must(cond bool, format string, args ...any) {
	if !cond {
		fmt.Fprintf(os.Stderr, "nats-client: "+format+"\n", args...)
		os.Exit(2)
	}
}

func env(name string) string {
	v := os.Getenv(name)
	must(v != "", "environment variable %s is not set", name)
	return v
}

// credentials is how this process signs in: its nkey seed (middleware), or its job's ticket read
// from the file the middleware mounted (executor; the ticket never enters the environment).
func credentials() nats.Option {
	if seed := os.Getenv("NATS_NKEY_SEED"); seed != "" {
		kp, err := nkeys.FromSeed([]byte(seed))
		must(err == nil, "NATS_NKEY_SEED is not an nkey seed: %v", err)
		pub, err := kp.PublicKey()
		must(err == nil, "nkey: %v", err)
		return nats.Nkey(pub, kp.Sign)
	}
	file := env("NATS_TICKET_FILE")
	ticket, err := os.ReadFile(file)
	must(err == nil, "read the ticket: %v", err)
	return nats.Token(strings.TrimSpace(string(ticket)))
}

func connect(errs *asyncErrors) *nats.Conn {
	opts := []nats.Option{
		credentials(),
		nats.Name("coderun-" + os.Args[1]),
		nats.Timeout(5 * time.Second),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs.add(err) }),
	}
	if p := os.Getenv("NATS_INBOX_PREFIX"); p != "" {
		opts = append(opts, nats.CustomInboxPrefix(p))
	}
	if ca := os.Getenv("NATS_CA_FILE"); ca != "" {
		opts = append(opts, nats.RootCAs(ca))
	}
	nc, err := nats.Connect(env("NATS_URL"), opts...)
	must(err == nil, "connect to %s as %s: %v", os.Getenv("NATS_URL"), os.Args[1], err)
	return nc
}

func replicas() int {
	v := os.Getenv("NATS_JETSTREAM_REPLICAS")
	if v == "" {
		return 1
	}
	n, err := strconv.Atoi(v)
	must(err == nil && n > 0, "NATS_JETSTREAM_REPLICAS (%q) must be a positive integer", v)
	return n
}

func emit(v any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

// ensureBuckets opens the user's KV bucket and object store, creating either when absent.
func ensureBuckets(ctx context.Context, js jetstream.JetStream, user string) (jetstream.KeyValue, jetstream.ObjectStore, error) {
	kv, err := js.KeyValue(ctx, user)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: user, History: 10, Replicas: replicas(), Storage: jetstream.FileStorage})
	}
	if err != nil {
		return nil, nil, fmt.Errorf("KV bucket %s: %w", user, err)
	}
	obj, err := js.ObjectStore(ctx, user)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		obj, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: user, Replicas: replicas(), Storage: jetstream.FileStorage})
	}
	if err != nil {
		return nil, nil, fmt.Errorf("object store %s: %w", user, err)
	}
	return kv, obj, nil
}

// retry runs f until it succeeds, fails with an error other than "no response", or ctx ends.
func retry(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil || !(errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders)) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// bucketsMu serialises bucket creation within one middleware process: concurrent creation of the
// same replicated stream from several goroutines can stall a clustered JetStream's answer.
var bucketsMu sync.Mutex

// ensureBucketsRetrying opens or creates the user's buckets, each attempt bounded by 5 s, until ctx
// ends: another replica may be creating the same stream, and a new stream's leader may not answer yet.
func ensureBucketsRetrying(ctx context.Context, js jetstream.JetStream, user string) (jetstream.KeyValue, error) {
	bucketsMu.Lock()
	defer bucketsMu.Unlock()
	for {
		attempt, cancel := context.WithTimeout(ctx, 5*time.Second)
		kv, _, err := ensureBuckets(attempt, js, user)
		cancel()
		if err == nil {
			return kv, nil
		}
		fmt.Fprintf(os.Stderr, "buckets of %s: %v (retrying)\n", user, err)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func middleware(jobs int) {
	errs := newAsyncErrors()
	nc := connect(errs)
	defer nc.Close()
	js, err := jetstream.New(nc)
	must(err == nil, "jetstream: %v", err)
	issuer := answerCallout(nc)
	done := make(chan struct{}, 1024)
	var mu sync.Mutex
	handled := 0
	for _, q := range strings.Split(env("NATS_QUEUES"), ",") {
		queue := q
		_, err := nc.QueueSubscribe(queue, env("NATS_QUEUE_GROUP"), func(m *nats.Msg) {
			ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			defer cancel()
			var job Job
			fmt.Fprintf(os.Stderr, "received on %s: %s\n", queue, m.Data)
			if err := json.Unmarshal(m.Data, &job); err != nil {
				emit(map[string]any{"queue": queue, "error": "bad job: " + err.Error()})
				return
			}
			kv, err := ensureBucketsRetrying(ctx, js, job.UserID)
			if err != nil {
				emit(map[string]any{"queue": queue, "error": err.Error()})
				return
			}
			rec := Record{ID: nats.NewInbox()[len(nats.InboxPrefix):], UserID: job.UserID, Language: job.Language, Status: "Pending"}
			b, _ := json.Marshal(rec)
			// A replicated bucket created a moment ago may not answer its first put yet (its stream
			// leader is still being elected): retry, as a production middleware must.
			if err := retry(ctx, func() error { _, err := kv.Put(ctx, rec.ID, b); return err }); err != nil {
				emit(map[string]any{"queue": queue, "error": "record job: " + err.Error()})
				return
			}
			ticket, err := signTicket(issuer, job.UserID, rec.ID)
			if err != nil {
				emit(map[string]any{"queue": queue, "error": "ticket: " + err.Error()})
				return
			}
			mu.Lock()
			handled++
			mu.Unlock()
			emit(map[string]any{"queue": queue, "userId": job.UserID, "jobId": rec.ID, "language": job.Language, "ticket": ticket})
			done <- struct{}{}
		})
		must(err == nil, "queue subscribe %s: %v", queue, err)
	}
	must(nc.Flush() == nil, "flush")
	time.Sleep(200 * time.Millisecond)
	if e := errs.take(); len(e) > 0 {
		must(false, "server refused the subscriptions: %v", e)
	}
	emit(map[string]any{"ready": true})
	if jobs == 0 {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
		<-stop
		must(nc.Drain() == nil, "drain")
		for nc.IsDraining() {
			time.Sleep(10 * time.Millisecond)
		}
		if e := errs.take(); len(e) > 0 {
			must(false, "async errors: %v", e)
		}
		return
	}
	deadline := time.After(60 * time.Second)
	for i := 0; i < jobs; i++ {
		select {
		case <-done:
		case <-deadline:
			must(false, "only %d of %d jobs arrived in 60 s; async errors: %v", handled, jobs, errs.take())
		}
	}
	if e := errs.take(); len(e) > 0 {
		must(false, "async errors: %v", e)
	}
}

func executor(size int) {
	errs := newAsyncErrors()
	nc := connect(errs)
	defer nc.Close()
	js, err := jetstream.New(nc)
	must(err == nil, "jetstream: %v", err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// A refused request gets no reply, only an asynchronous permission violation: give up on it at
	// once rather than at the timeout.
	go func() {
		select {
		case <-errs.signal:
			cancel()
		case <-ctx.Done():
		}
	}()
	user, job := env("USER_ID"), env("JOB_ID")
	obj, err := js.ObjectStore(ctx, user)
	must(err == nil, "open object store %s: %v (async: %v)", user, err, errs.take())
	data := bytes.Repeat([]byte("coderun-output:"+job+"\n"), size/(len(job)+16)+1)[:size]
	info, err := obj.PutBytes(ctx, job+"-output.zip", data)
	must(err == nil, "put output: %v (async: %v)", err, errs.take())
	kv, err := js.KeyValue(ctx, user)
	must(err == nil, "open KV %s: %v (async: %v)", user, err, errs.take())
	rec := Record{ID: job, UserID: user, Status: "Done", Output: info.Name}
	b, _ := json.Marshal(rec)
	_, err = kv.Put(ctx, job, b)
	must(err == nil, "record result: %v (async: %v)", err, errs.take())
	emit(map[string]any{"object": info.Name, "size": info.Size, "chunks": info.Chunks, "digest": info.Digest})
}

// tryCase is one thing a user attempts; ok reports whether the server let it happen.
type tryCase struct {
	Name string   `json:"name"`
	Op   string   `json:"op"`
	Args []string `json:"args"`
}

func try() {
	errs := newAsyncErrors()
	nc := connect(errs)
	defer nc.Close()
	js, err := jetstream.New(nc)
	must(err == nil, "jetstream: %v", err)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var c tryCase
		must(json.Unmarshal(in.Bytes(), &c) == nil, "bad case %q", in.Text())
		errs.take()
		select {
		case <-errs.signal:
		default:
		}
		// A denied request is answered by an asynchronous permission violation, not by a reply:
		// stop waiting for the reply as soon as the violation arrives.
		began := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		result := make(chan error, 1)
		go func() { result <- run(ctx, js, nc, c) }()
		var err error
		select {
		case err = <-result:
		case <-errs.signal:
			cancel()
			// Some nats.go releases (v1.32's ordered consumers) wait out their own timeout whatever
			// the context says; the violation already answered the case.
			select {
			case err = <-result:
			case <-time.After(200 * time.Millisecond):
				err = errors.New("refused: the server reported a permission violation")
			}
		}
		cancel()
		_ = nc.FlushTimeout(2 * time.Second)
		time.Sleep(100 * time.Millisecond)
		async := errs.take()
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		if len(async) > 0 {
			msg = strings.TrimSpace(msg + " " + strings.Join(async, "; "))
		}
		emit(map[string]any{"name": c.Name, "ok": err == nil && len(async) == 0, "error": msg, "ms": time.Since(began).Milliseconds()})
	}
}

func arg(c tryCase, i int) string {
	must(i < len(c.Args), "case %s: op %s needs %d arguments", c.Name, c.Op, i+1)
	return c.Args[i]
}

func run(ctx context.Context, js jetstream.JetStream, nc *nats.Conn, c tryCase) error {
	switch c.Op {
	case "pub":
		return nc.Publish(arg(c, 0), []byte("probe"))
	case "sub":
		sub, err := nc.SubscribeSync(arg(c, 0))
		if err != nil {
			return err
		}
		defer func() { _ = sub.Unsubscribe() }()
		return nc.Flush()
	case "kv-create":
		_, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: arg(c, 0)})
		return err
	case "kv-put":
		kv, err := js.KeyValue(ctx, arg(c, 0))
		if err != nil {
			return err
		}
		_, err = kv.Put(ctx, arg(c, 1), []byte(`{"status":"Forged"}`))
		return err
	case "kv-get":
		kv, err := js.KeyValue(ctx, arg(c, 0))
		if err != nil {
			return err
		}
		_, err = kv.Get(ctx, arg(c, 1))
		return err
	case "kv-keys":
		kv, err := js.KeyValue(ctx, arg(c, 0))
		if err != nil {
			return err
		}
		_, err = kv.Keys(ctx)
		return err
	case "kv-delete-bucket", "obj-delete-bucket":
		return js.DeleteStream(ctx, arg(c, 0))
	case "stream-purge":
		s, err := js.Stream(ctx, arg(c, 0))
		if err != nil {
			return err
		}
		return s.Purge(ctx)
	case "msg-get":
		s, err := js.Stream(ctx, arg(c, 0))
		if err != nil {
			return err
		}
		_, err = s.GetLastMsgForSubject(ctx, arg(c, 1))
		return err
	case "obj-create":
		_, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: arg(c, 0)})
		return err
	case "obj-put":
		obj, err := js.ObjectStore(ctx, arg(c, 0))
		if err != nil {
			return err
		}
		_, err = obj.PutBytes(ctx, arg(c, 1), []byte("forged output"))
		return err
	case "obj-get":
		obj, err := js.ObjectStore(ctx, arg(c, 0))
		if err != nil {
			return err
		}
		_, err = obj.GetBytes(ctx, arg(c, 1))
		return err
	case "obj-list":
		obj, err := js.ObjectStore(ctx, arg(c, 0))
		if err != nil {
			return err
		}
		_, err = obj.List(ctx)
		return err
	case "stream-create":
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: arg(c, 0), Subjects: []string{arg(c, 1)}})
		return err
	}
	must(false, "case %s: unknown op %q", c.Name, c.Op)
	return nil
}

func main() {
	must(len(os.Args) >= 2, "usage: nats-client middleware|executor|try [flags]")
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	jobs := fs.Int("jobs", 1, "middleware: jobs to consume before exiting")
	size := fs.Int("size", 300_000, "executor: bytes of output to store")
	_ = fs.Parse(os.Args[2:])
	switch os.Args[1] {
	case "middleware":
		middleware(*jobs)
	case "executor":
		executor(*size)
	case "try":
		try()
	default:
		must(false, "unknown role %q", os.Args[1])
	}
}
