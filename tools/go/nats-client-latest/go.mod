module coderun.local/tools/nats-client-latest

go 1.26.0

tool coderun.local/tools/nats-client

require (
	coderun.local/tools/nats-client v0.0.0 // indirect
	github.com/klauspost/compress v1.20.0 // indirect
	github.com/nats-io/jwt/v2 v2.7.3 // indirect
	github.com/nats-io/nats.go v1.56.0 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	golang.org/x/crypto v0.57.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

replace coderun.local/tools/nats-client => ../nats-client
