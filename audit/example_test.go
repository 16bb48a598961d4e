package audit_test

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/coffre/coffre/audit"
)

// Example shows the life of a log: entries appended to the tree, a
// checkpoint signed, an export written and verified offline.
func Example() {
	skey, vkey, err := audit.GenerateKey("coffre.example.org/audit")
	if err != nil {
		panic(err)
	}
	signer, err := audit.NewSigner(skey)
	if err != nil {
		panic(err)
	}

	// The store assigns sequence numbers and keeps each entry with its leaf
	// hash, and the nodes Append returns, in the transaction of the change.
	tree := &audit.Tree{}
	var entries []audit.Entry
	var leaves [][]byte
	for i, action := range []string{"contact.create", "contact.read", "contact.erase"} {
		e := audit.Entry{Seq: uint64(i), Time: time.Date(2025, 3, 1, 9, 0, i, 0, time.UTC),
			Tenant: "mairie", ActorID: "tok_1", ActorRole: "agent", Action: action,
			Subject: "c_42", Purpose: "casework", Outcome: "ok"}
		leaf, err := e.LeafHash()
		if err != nil {
			panic(err)
		}
		entries, leaves = append(entries, e), append(leaves, leaf)
	}
	tree, _, err = tree.Append(leaves...)
	if err != nil {
		panic(err)
	}
	checkpoint, err := signer.Sign(tree.Size(), tree.Root())
	if err != nil {
		panic(err)
	}

	var export bytes.Buffer
	w, err := audit.NewExportWriter(&export, audit.ExportHeader{Origin: signer.Origin(), Size: tree.Size()})
	if err != nil {
		panic(err)
	}
	for i := range entries {
		if err := w.WriteEntry(&entries[i], leaves[i]); err != nil {
			panic(err)
		}
	}
	if err := w.WriteCheckpoint(checkpoint); err != nil {
		panic(err)
	}
	if err := w.Flush(); err != nil {
		panic(err)
	}

	// The DPO needs only the export and the public key.
	s, err := audit.Verify(context.Background(), &export, vkey, audit.VerifyOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Size, "entries verified,", s.Checkpoints, "checkpoint")
	// Output: 3 entries verified, 1 checkpoint
}
