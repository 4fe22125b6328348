package web

import (
	"embed"
	"io/fs"
)

//go:embed dist/chess dist/console
var dist embed.FS

// Chess returns the chess page's files: index.html, app.js, style.css and
// LICENSES.txt.
func Chess() fs.FS { return sub("dist/chess") }

// Console returns the operator console's files: index.html, console.js,
// console.css and LICENSES.txt.
func Console() fs.FS { return sub("dist/console") }

func sub(dir string) fs.FS {
	f, err := fs.Sub(dist, dir)
	if err != nil {
		panic(err) // dir is a constant embedded above
	}
	return f
}
