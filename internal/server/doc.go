// Package server is the app's HTTP surface: routing, the gate API, health
// and metrics endpoints, and the middleware every request passes through
// (request ids, structured access logs, panic recovery, body limits).
package server
