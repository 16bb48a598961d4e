// Package mock holds test-only fakes of the interfaces package vault
// consumes: an in-memory Store and a KeyRing. They let the HTTP API and
// other packages be tested without a database or a root key.
//
// Nothing here is for production. The Store keeps everything in memory and
// forgets it on exit; the KeyRing keeps data keys in the clear inside the
// "wrapped" form, so crypto-shredding means nothing with it. Both are safe
// for concurrent use.
package mock
