// Package conformance locates the upstream reference data (real GitHub
// webhook payloads and schemas, Adaptive Card and Bot Framework schemas) that
// conformance tests check Gatehouse's shapes against. The data lives outside
// the module, in a `shared/testdata` folder beside the checkout, or wherever
// GATEHOUSE_CONFORMANCE_DIR points; tests that need it skip when it is absent.
package conformance
