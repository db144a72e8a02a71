// Package storetest is the contract suite of store.Store: every
// implementation runs it from its own tests with
//
//	storetest.Run(t, func(t *testing.T) store.Store { … })
//
// The suite passes times explicitly and never sleeps.
package storetest
