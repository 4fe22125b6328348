// Package origin decides which browser pages may open a WebSocket to one
// of the project's servers (the node's JSON-RPC and the chess bridge).
//
// A browser sends an Origin header with every WebSocket handshake and
// lets any page open one, so a server that accepts any origin lets every
// web page its user visits talk to it with the user's network position.
// A Policy allows, by default, only pages of the server's own origin
// (the Origin's host is the request's Host) and clients that send no
// Origin (programs, not browsers); an allow-list of exact origins, or
// "*", widens it.
//
//	p, err := origin.New([]string{"https://console.example.org"})
//	if err != nil { ... }
//	http.Handle("/ws", p.Guard(wsHandler)) // others get 403
//
// It owns the origin policy only and must not import any other package of
// the module (nor cmd/ or examples/).
package origin
