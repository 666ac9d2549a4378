package main

// The middleware's side of per-job executor credentials (README, "Image contract"):
//
//  1. When it launches a job, the middleware signs a ticket for it: a JWT (nats-io/jwt GenericClaims)
//     whose subject is the job id, carrying the user id, audience "coderun-executor-ticket", expiring
//     NATS_TICKET_SECONDS later, signed with the auth callout issuer's account key. The real
//     middleware puts it in a Secret named after the executor pod; the executor presents it as its
//     connection token.
//  2. nats-server passes every connection that is not an nkey user (auth_users) to the auth callout,
//     $SYS.REQ.USER.AUTH in the platform's account, which the middleware answers as one queue group.
//     It checks the ticket's signature, issuer, audience and expiry, and answers with a user JWT for
//     the account NATS_CALLOUT_ACCOUNT whose permissions are NATS_EXECUTOR_SCOPE filled in for that
//     job, expiring with the ticket. Anything else gets an error, and the server refuses the client.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

const ticketAudience = "coderun-executor-ticket"

// scope is NATS_EXECUTOR_SCOPE: subject templates with {user}, {job} and {object}.
type scope struct {
	InboxPrefix string   `json:"inboxPrefix"`
	Publish     []string `json:"publish"`
	Subscribe   []string `json:"subscribe"`
}

// objectToken is the object store's subject token for an object name (base64url, padded), as
// nats.go and nats.js name an object's metadata subject $O.<bucket>.M.<token>.
func objectToken(name string) string { return base64.URLEncoding.EncodeToString([]byte(name)) }

func fill(templates []string, user, job string) []string {
	r := strings.NewReplacer("{user}", user, "{job}", job, "{object}", objectToken(job+"-output.zip"))
	out := make([]string, len(templates))
	for i, t := range templates {
		out[i] = r.Replace(t)
	}
	return out
}

// validToken reports whether s can be a subject token: the ids end up in subjects.
func validToken(s string) bool {
	return s != "" && !strings.ContainsAny(s, ".*> \t\r\n")
}

func issuerKey() nkeys.KeyPair {
	kp, err := nkeys.FromSeed([]byte(env("NATS_CALLOUT_ISSUER_SEED")))
	must(err == nil, "NATS_CALLOUT_ISSUER_SEED is not an nkey seed: %v", err)
	pub, _ := kp.PublicKey()
	must(nkeys.IsValidPublicAccountKey(pub), "NATS_CALLOUT_ISSUER_SEED must be an account seed (SA...)")
	return kp
}

func ticketSeconds() int64 {
	n, err := strconv.ParseInt(env("NATS_TICKET_SECONDS"), 10, 64)
	must(err == nil && n > 0, "NATS_TICKET_SECONDS (%q) must be a positive integer", os.Getenv("NATS_TICKET_SECONDS"))
	return n
}

// signTicket signs the ticket of one job.
func signTicket(issuer nkeys.KeyPair, user, job string) (string, error) {
	if !validToken(user) || !validToken(job) {
		return "", fmt.Errorf("user %q or job %q cannot name a subject token", user, job)
	}
	c := jwt.NewGenericClaims(job)
	c.Audience = ticketAudience
	c.Expires = time.Now().Unix() + ticketSeconds()
	c.Data["user"] = user
	return c.Encode(issuer)
}

// checkTicket returns the user and job of a valid ticket signed by issuer.
func checkTicket(issuerPub, token string) (user, job string, expires int64, err error) {
	c, err := jwt.DecodeGeneric(token)
	if err != nil {
		return "", "", 0, fmt.Errorf("not a ticket: %w", err)
	}
	if c.Issuer != issuerPub || c.Audience != ticketAudience {
		return "", "", 0, fmt.Errorf("ticket not issued by the middleware")
	}
	if c.Expires == 0 || c.Expires <= time.Now().Unix() {
		return "", "", 0, fmt.Errorf("ticket expired")
	}
	u, _ := c.Data["user"].(string)
	if !validToken(u) || !validToken(c.Subject) {
		return "", "", 0, fmt.Errorf("ticket names no valid user and job")
	}
	return u, c.Subject, c.Expires, nil
}

// answerCallout subscribes to the auth callout as the middleware's queue group, when this
// middleware holds the issuer seed; it returns the issuer key.
func answerCallout(nc *nats.Conn) nkeys.KeyPair {
	issuer := issuerKey()
	issuerPub, _ := issuer.PublicKey()
	account := env("NATS_CALLOUT_ACCOUNT")
	var sc scope
	must(json.Unmarshal([]byte(env("NATS_EXECUTOR_SCOPE")), &sc) == nil, "NATS_EXECUTOR_SCOPE is not JSON")
	_, err := nc.QueueSubscribe("$SYS.REQ.USER.AUTH", env("NATS_QUEUE_GROUP"), func(m *nats.Msg) {
		req, err := jwt.DecodeAuthorizationRequestClaims(string(m.Data))
		if err != nil {
			fmt.Fprintf(os.Stderr, "auth callout: bad request: %v\n", err)
			return
		}
		res := jwt.NewAuthorizationResponseClaims(req.UserNkey)
		res.Audience = req.Server.ID
		user, job, expires, err := checkTicket(issuerPub, req.ConnectOptions.Token)
		if err == nil {
			uc := jwt.NewUserClaims(req.UserNkey)
			uc.Name = "executor-" + job
			uc.Audience = account
			uc.Expires = expires
			uc.Pub.Allow.Add(fill(sc.Publish, user, job)...)
			uc.Sub.Allow.Add(fill(sc.Subscribe, user, job)...)
			// An empty allow list means "everything" to nats-server: deny everything instead.
			if len(uc.Pub.Allow) == 0 {
				uc.Pub.Deny.Add(">")
			}
			if len(uc.Sub.Allow) == 0 {
				uc.Sub.Deny.Add(">")
			}
			res.Jwt, err = uc.Encode(issuer)
		}
		if err != nil {
			res.Error = err.Error()
		}
		fmt.Fprintf(os.Stderr, "auth callout: job %q of %q: %v\n", job, user, err)
		token, err := res.Encode(issuer)
		if err != nil {
			fmt.Fprintf(os.Stderr, "auth callout: sign the answer: %v\n", err)
			return
		}
		_ = m.Respond([]byte(token))
	})
	must(err == nil, "subscribe to the auth callout: %v", err)
	return issuer
}
