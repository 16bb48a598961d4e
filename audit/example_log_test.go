package audit_test

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/coffre/coffre/audit"
	"github.com/coffre/coffre/audit/audittest"
)

// ExampleLog shows a Log over a store: writers commit entries unsequenced,
// the Log numbers them, signs a checkpoint, and exports a log that verifies
// offline.
func ExampleLog() {
	ctx := context.Background()
	skey, vkey, err := audit.GenerateKey("coffre.example.org/audit")
	if err != nil {
		panic(err)
	}
	signer, err := audit.NewSigner(skey)
	if err != nil {
		panic(err)
	}
	store := audittest.NewStore() // vault/postgres or vault/sqlite in a server
	l, err := audit.NewLog(store, audit.LogOptions{Signer: signer})
	if err != nil {
		panic(err)
	}
	if err := l.Open(ctx); err != nil {
		panic(err)
	}
	defer l.Close()

	// Each audited transaction commits its entry, without a number.
	for i, tenant := range []string{"mairie", "clinique", "mairie"} {
		store.Add(&audit.Entry{Time: time.Date(2026, 3, 1, 9, 0, i, 0, time.UTC),
			Tenant: tenant, ActorID: "tok_1", ActorRole: "agent", Action: "contact.read",
			Subject: fmt.Sprintf("c_%d", i), Purpose: "casework", Outcome: "ok"})
	}

	c, err := l.Checkpoint(ctx) // sequences, then signs
	if err != nil {
		panic(err)
	}
	fmt.Println("checkpoint of size", c.Size)

	var export bytes.Buffer
	if err := l.Export(ctx, &export, "mairie", nil); err != nil {
		panic(err)
	}
	s, err := audit.Verify(ctx, &export, vkey, audit.VerifyOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Size, "entries verified,", s.Redacted, "of another tenant redacted")
	// Output:
	// checkpoint of size 3
	// 3 entries verified, 1 of another tenant redacted
}
