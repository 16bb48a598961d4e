// Package synth generates deterministic synthetic French residents for
// demonstrations, load tests and benchmarks of Coffre (coffre demo, coffre
// bench).
//
// Every person is fictitious: given and family names are drawn
// independently from embedded lists of common French names, e-mail
// addresses sit on the domains reserved for documentation by RFC 2606
// (example.org, example.com, example.net), and phone numbers fall in the
// block 06 39 98 XX XX that the French regulator (ARCEP) reserves for
// fiction, so no real mailbox or telephone is ever targeted.
//
// Residents live in the twenty arrondissements of Paris: the postal code
// (75001 … 75020) and the district ("d1" … "d20") always agree, so
// segmentation by district or postal code gives consistent answers.
package synth
