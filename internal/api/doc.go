// Package api holds the JSON shapes that cross process boundaries: the
// action's `responses` output and the app's gate view, so that the server and
// the action's client agree on one definition.
package api
