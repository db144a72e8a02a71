// Package store defines the app's durable state: gates, their responses and
// notes, webhook deliveries (an inbox, deduplicated by delivery id), the
// outbox of GitHub side effects, and installations. Implementations live in
// subpackages (sqlite); storetest is the contract suite every implementation
// passes.
package store
