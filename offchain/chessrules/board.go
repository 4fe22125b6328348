package chessrules

import (
	"fmt"
	"strings"
)

// square indexes the board: a1 = 0, b1 = 1, ..., h8 = 63. This matches
// notnil/chess's Square numbering.
type square int8

// noSquare marks an absent en-passant target. a1 can never be one, so the
// zero value doubles as "none".
const noSquare square = 0

// sq returns the square on file f and rank r (both 0-based).
func sq(f, r int) square {
	return square(r*8 + f)
}

func (s square) file() int { return int(s) % 8 }
func (s square) rank() int { return int(s) / 8 }

// String returns the square's name, e.g. "e3".
func (s square) String() string {
	return string([]byte{byte('a' + s.file()), byte('1' + s.rank())})
}

// parseSquare parses a lower-case square name such as "e3".
func parseSquare(s string) (square, bool) {
	if len(s) != 2 || s[0] < 'a' || s[0] > 'h' || s[1] < '1' || s[1] > '8' {
		return noSquare, false
	}
	return sq(int(s[0]-'a'), int(s[1]-'1')), true
}

// kind is a piece type without colour.
type kind uint8

const (
	noKind kind = iota
	pawn
	knight
	bishop
	rook
	queen
	king
)

// piece is a kind plus a colour bit; the zero value is an empty square.
type piece uint8

const (
	empty     piece = 0
	blackFlag piece = 8
)

func mkPiece(k kind, c Color) piece {
	if k == noKind {
		return empty
	}
	if c == Black {
		return piece(k) | blackFlag
	}
	return piece(k)
}

func (p piece) kind() kind { return kind(p &^ blackFlag) }

func (p piece) color() Color {
	switch {
	case p == empty:
		return NoColor
	case p&blackFlag != 0:
		return Black
	default:
		return White
	}
}

// fenLetters maps a kind to its black FEN letter; white is upper case.
const fenLetters = " pnbrqk"

func (p piece) letter() byte {
	b := fenLetters[p.kind()]
	if p.color() == White {
		b -= 'a' - 'A'
	}
	return b
}

func pieceFromLetter(b byte) (piece, bool) {
	c := Black
	if b >= 'A' && b <= 'Z' {
		c, b = White, b+('a'-'A')
	}
	i := strings.IndexByte(fenLetters[1:], b)
	if i < 0 {
		return empty, false
	}
	return mkPiece(kind(i+1), c), true
}

// board is the piece placement.
type board [64]piece

// parsePlacement parses the first FEN field. Runs of empty squares may be
// split across several digits ("44" is accepted as "8").
func parsePlacement(s string) (board, error) {
	var b board
	ranks := strings.Split(s, "/")
	if len(ranks) != 8 {
		return board{}, fmt.Errorf("%w: have %d ranks", errFENPlacement, len(ranks))
	}
	for i, row := range ranks {
		r, f := 7-i, 0
		for j := 0; j < len(row); j++ {
			c := row[j]
			if c >= '1' && c <= '8' {
				f += int(c - '0')
			} else if p, ok := pieceFromLetter(c); ok && f < 8 {
				b[sq(f, r)] = p
				f++
			} else {
				f = 9 // reported below
			}
			if f > 8 {
				break
			}
		}
		if f != 8 {
			return board{}, fmt.Errorf("%w: rank %d %q", errFENPlacement, r+1, row)
		}
	}
	return b, nil
}

// writePlacement writes the canonical first FEN field.
func (b *board) writePlacement(sb *strings.Builder) {
	for r := 7; r >= 0; r-- {
		run := 0
		for f := 0; f < 8; f++ {
			p := b[sq(f, r)]
			if p == empty {
				run++
				continue
			}
			if run > 0 {
				sb.WriteByte(byte('0' + run))
				run = 0
			}
			sb.WriteByte(p.letter())
		}
		if run > 0 {
			sb.WriteByte(byte('0' + run))
		}
		if r > 0 {
			sb.WriteByte('/')
		}
	}
}

// validate rejects boards that cannot arise in a game with turn to move:
// not exactly one king per side, pawns on the back ranks, or the side not to
// move in check.
func (b *board) validate(turn Color) error {
	kings := [3]int{}
	for s, p := range b {
		switch p.kind() {
		case king:
			kings[p.color()]++
		case pawn:
			if r := square(s).rank(); r == 0 || r == 7 {
				return fmt.Errorf("%w: %s", errFENPawnRank, square(s))
			}
		}
	}
	if kings[White] != 1 || kings[Black] != 1 {
		return fmt.Errorf("%w: white %d, black %d", errFENKings, kings[White], kings[Black])
	}
	if b.inCheck(turn.Other()) {
		return fmt.Errorf("%w: %s", errFENOppInCheck, turn.Other())
	}
	return nil
}

// kingSquare returns the square of c's king; the board must have one.
func (b *board) kingSquare(c Color) square {
	want := mkPiece(king, c)
	for s, p := range b {
		if p == want {
			return square(s)
		}
	}
	return noSquare
}

// inCheck reports whether c's king is attacked.
func (b *board) inCheck(c Color) bool {
	return b.attacked(b.kingSquare(c), c.Other())
}

// at returns the piece on file f, rank r, and whether that is on the board.
func (b *board) at(f, r int) (piece, bool) {
	if f < 0 || f > 7 || r < 0 || r > 7 {
		return empty, false
	}
	return b[sq(f, r)], true
}

var (
	knightSteps = [8][2]int{{1, 2}, {2, 1}, {2, -1}, {1, -2}, {-1, -2}, {-2, -1}, {-2, 1}, {-1, 2}}
	kingSteps   = [8][2]int{{1, 0}, {1, 1}, {0, 1}, {-1, 1}, {-1, 0}, {-1, -1}, {0, -1}, {1, -1}}
	rookDirs    = [4][2]int{{1, 0}, {0, 1}, {-1, 0}, {0, -1}}
	bishopDirs  = [4][2]int{{1, 1}, {-1, 1}, {-1, -1}, {1, -1}}
)

// attacked reports whether square s is attacked by a piece of colour by.
func (b *board) attacked(s square, by Color) bool {
	f, r := s.file(), s.rank()
	// A white pawn attacks diagonally upwards, so it stands one rank below.
	pr := r - 1
	if by == Black {
		pr = r + 1
	}
	for _, df := range [2]int{-1, 1} {
		if p, _ := b.at(f+df, pr); p == mkPiece(pawn, by) {
			return true
		}
	}
	for _, d := range knightSteps {
		if p, _ := b.at(f+d[0], r+d[1]); p == mkPiece(knight, by) {
			return true
		}
	}
	for _, d := range kingSteps {
		if p, _ := b.at(f+d[0], r+d[1]); p == mkPiece(king, by) {
			return true
		}
	}
	return b.slides(f, r, rookDirs, mkPiece(rook, by), mkPiece(queen, by)) ||
		b.slides(f, r, bishopDirs, mkPiece(bishop, by), mkPiece(queen, by))
}

// slides reports whether the first piece met from (f, r) along any of dirs
// is p1 or p2.
func (b *board) slides(f, r int, dirs [4][2]int, p1, p2 piece) bool {
	for _, d := range dirs {
		for i := 1; ; i++ {
			p, on := b.at(f+i*d[0], r+i*d[1])
			if !on {
				break
			}
			if p == empty {
				continue
			}
			if p == p1 || p == p2 {
				return true
			}
			break
		}
	}
	return false
}

// insufficientMaterial reports whether neither side can ever checkmate:
// only kings, plus at most one knight or bishop in total, or plus any number
// of bishops that all stand on squares of one colour.
func (b *board) insufficientMaterial() bool {
	knights, light, dark := 0, 0, 0
	for s, p := range b {
		switch p.kind() {
		case noKind, king:
		case knight:
			knights++
		case bishop:
			if (square(s).file()+square(s).rank())%2 == 0 {
				dark++ // a1 is dark
			} else {
				light++
			}
		default:
			return false
		}
	}
	if knights+light+dark <= 1 {
		return true
	}
	return knights == 0 && (light == 0 || dark == 0)
}
