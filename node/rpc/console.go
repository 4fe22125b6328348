package rpc

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/arbiter-chain/arbiter/web"
)

// consoleRoutes serves the operator console: GET /console (the page) and
// GET /console/{file} (its script, style and licences). The page reads
// only the arbiter_ and eth_ methods over the WebSocket at /ws.
func (s *Server) consoleRoutes(r *mux.Router) {
	files := web.Console()
	r.Handle("/console", s.metrics.Instrument("console", web.File(files, "index.html"))).Methods(http.MethodGet)
	r.Handle("/console/", http.RedirectHandler("/console", http.StatusMovedPermanently)).Methods(http.MethodGet)
	for _, name := range []string{"console.js", "console.css", "LICENSES.txt"} {
		r.Handle("/console/"+name, s.metrics.Instrument("console", web.File(files, name))).Methods(http.MethodGet)
	}
}
