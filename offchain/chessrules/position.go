package chessrules

import (
	"fmt"
	"strconv"
	"strings"
)

// StartFEN is the standard starting position.
const StartFEN = "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 0 1"

// MaxFENLength is the longest FEN, in bytes, that ParseFEN accepts. Every
// canonical FEN produced by this package fits.
const MaxFENLength = 100

// maxCounter bounds the halfmove clock and the fullmove number (at most five
// digits each), which keeps every canonical FEN within MaxFENLength.
const maxCounter = 99999

// Color is a side in the game.
type Color uint8

// The sides. NoColor is the zero value and means "neither".
const (
	NoColor Color = iota
	White
	Black
)

// String returns "white", "black" or "none".
func (c Color) String() string {
	switch c {
	case White:
		return "white"
	case Black:
		return "black"
	default:
		return "none"
	}
}

// Other returns the opposing side; Other of NoColor is NoColor.
func (c Color) Other() Color {
	switch c {
	case White:
		return Black
	case Black:
		return White
	default:
		return NoColor
	}
}

// Castling-right bits.
const (
	castleWK uint8 = 1 << iota
	castleWQ
	castleBK
	castleBQ
)

// Position is one chess position as described by a FEN: piece placement,
// side to move, castling rights, en-passant target, halfmove clock and
// fullmove number. It is an immutable, comparable value held in canonical
// form, so two Positions are equal exactly when they describe the same
// position:
//
//   - castling rights are kept only when the king and that rook stand on
//     their original squares;
//   - the en-passant target is kept only when an en-passant capture is
//     actually legal.
//
// The zero Position is invalid.
type Position struct {
	board    board
	turn     Color
	castling uint8
	ep       square // noSquare unless an en-passant capture is legal
	halfmove uint32
	fullmove uint32 // zero only in the zero Position
}

// ParseFEN parses a FEN into a Position. It is strict about syntax (exactly
// six fields separated by single spaces, counters without sign or leading
// zeros, at most MaxFENLength bytes) and rejects impossible positions: not
// exactly one king per side, pawns on the first or last rank, the side not
// to move in check, or an en-passant square without the pawn that just made
// the double step. Castling fields may list rights in any order. All errors
// wrap ErrInvalidFEN.
func ParseFEN(fen string) (Position, error) {
	if len(fen) > MaxFENLength {
		return Position{}, fmt.Errorf("%w: %d bytes", errFENTooLong, len(fen))
	}
	fields := strings.Split(fen, " ")
	if len(fields) != 6 {
		return Position{}, fmt.Errorf("%w: have %d", errFENFields, len(fields))
	}
	var p Position
	var err error
	if p.board, err = parsePlacement(fields[0]); err != nil {
		return Position{}, err
	}
	switch fields[1] {
	case "w":
		p.turn = White
	case "b":
		p.turn = Black
	default:
		return Position{}, fmt.Errorf("%w: %q", errFENSide, fields[1])
	}
	if p.castling, err = parseCastling(fields[2]); err != nil {
		return Position{}, err
	}
	if p.ep, err = parseSquareField(fields[3]); err != nil {
		return Position{}, err
	}
	if p.halfmove, err = parseCounter(fields[4], 0); err != nil {
		return Position{}, err
	}
	if p.fullmove, err = parseCounter(fields[5], 1); err != nil {
		return Position{}, err
	}
	if err := p.board.validate(p.turn); err != nil {
		return Position{}, err
	}
	if err := p.checkEnPassant(); err != nil {
		return Position{}, err
	}
	return p.normalize()
}

// SamePosition reports whether two FENs describe the same position, in the
// sense of Position.Equal. It fails if either FEN is invalid.
func SamePosition(a, b string) (bool, error) {
	pa, err := ParseFEN(a)
	if err != nil {
		return false, fmt.Errorf("first FEN: %w", err)
	}
	pb, err := ParseFEN(b)
	if err != nil {
		return false, fmt.Errorf("second FEN: %w", err)
	}
	return pa.Equal(pb), nil
}

// Equal reports whether p and q are the same position: same placement, side
// to move, effective castling rights, effective en-passant target, halfmove
// clock and fullmove number.
func (p Position) Equal(q Position) bool {
	return p == q
}

// SideToMove returns the side to move, or NoColor for the zero Position.
func (p Position) SideToMove() Color {
	return p.turn
}

// FEN returns the canonical FEN of p: castling rights in KQkq order, the
// en-passant field only when a capture there is legal. The zero Position
// yields the empty string.
func (p Position) FEN() string {
	if !p.valid() {
		return ""
	}
	return p.format()
}

// String returns p.FEN().
func (p Position) String() string {
	return p.FEN()
}

// valid reports whether p came from ParseFEN or ApplyUCI.
func (p Position) valid() bool {
	return p.fullmove != 0
}

// format writes p as a FEN, including whatever en-passant square p holds.
func (p Position) format() string {
	var sb strings.Builder
	sb.Grow(MaxFENLength)
	p.board.writePlacement(&sb)
	if p.turn == White {
		sb.WriteString(" w ")
	} else {
		sb.WriteString(" b ")
	}
	if p.castling == 0 {
		sb.WriteByte('-')
	}
	for i, c := range "KQkq" {
		if p.castling&(1<<i) != 0 {
			sb.WriteRune(c)
		}
	}
	sb.WriteByte(' ')
	if p.ep == noSquare {
		sb.WriteByte('-')
	} else {
		sb.WriteString(p.ep.String())
	}
	sb.WriteByte(' ')
	sb.WriteString(strconv.FormatUint(uint64(p.halfmove), 10))
	sb.WriteByte(' ')
	sb.WriteString(strconv.FormatUint(uint64(p.fullmove), 10))
	return sb.String()
}

// parseCastling parses "-" or a non-empty set of KQkq in any order.
func parseCastling(s string) (uint8, error) {
	if s == "-" {
		return 0, nil
	}
	if len(s) == 0 || len(s) > 4 {
		return 0, fmt.Errorf("%w: %q", errFENCastling, s)
	}
	var rights uint8
	for i := 0; i < len(s); i++ {
		bit := uint8(0)
		switch s[i] {
		case 'K':
			bit = castleWK
		case 'Q':
			bit = castleWQ
		case 'k':
			bit = castleBK
		case 'q':
			bit = castleBQ
		}
		if bit == 0 || rights&bit != 0 {
			return 0, fmt.Errorf("%w: %q", errFENCastling, s)
		}
		rights |= bit
	}
	return rights, nil
}

// parseSquareField parses the en-passant field: "-" or a square on the
// third or sixth rank.
func parseSquareField(s string) (square, error) {
	if s == "-" {
		return noSquare, nil
	}
	sq, ok := parseSquare(s)
	if !ok || (sq.rank() != 2 && sq.rank() != 5) {
		return noSquare, fmt.Errorf("%w: %q", errFENEnPassant, s)
	}
	return sq, nil
}

// parseCounter parses a decimal counter without sign or leading zeros, in
// [min, maxCounter].
func parseCounter(s string, min uint32) (uint32, error) {
	if len(s) == 0 || len(s) > 5 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%w: %q", errFENCounter, s)
	}
	var n uint32
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: %q", errFENCounter, s)
		}
		n = n*10 + uint32(s[i]-'0')
	}
	if n < min || n > maxCounter {
		return 0, fmt.Errorf("%w: %q", errFENCounter, s)
	}
	return n, nil
}

// checkEnPassant rejects an en-passant square that no double pawn step can
// have produced: it must be on the mover's sixth rank (third for black),
// empty, with the square behind it empty and an enemy pawn in front of it.
func (p Position) checkEnPassant() error {
	if p.ep == noSquare {
		return nil
	}
	wantRank, dir, enemy := 5, 1, mkPiece(pawn, Black)
	if p.turn == Black {
		wantRank, dir, enemy = 2, -1, mkPiece(pawn, White)
	}
	f, r := p.ep.file(), p.ep.rank()
	if r != wantRank ||
		p.board[p.ep] != empty ||
		p.board[sq(f, r+dir)] != empty ||
		p.board[sq(f, r-dir)] != enemy {
		return fmt.Errorf("%w: %s with %s to move", errFENEnPassant, p.ep, p.turn)
	}
	return nil
}

// normalize drops castling rights whose king or rook has left its original
// square and an en-passant square on which no capture is legal. The board
// and counters must already be valid.
func (p Position) normalize() (Position, error) {
	homes := [4]struct {
		bit        uint8
		king, rook square
		c          Color
	}{
		{castleWK, sq(4, 0), sq(7, 0), White},
		{castleWQ, sq(4, 0), sq(0, 0), White},
		{castleBK, sq(4, 7), sq(7, 7), Black},
		{castleBQ, sq(4, 7), sq(0, 7), Black},
	}
	for _, h := range homes {
		if p.board[h.king] != mkPiece(king, h.c) || p.board[h.rook] != mkPiece(rook, h.c) {
			p.castling &^= h.bit
		}
	}
	if p.ep == noSquare {
		return p, nil
	}
	eng, err := p.engine()
	if err != nil {
		return Position{}, err
	}
	if !hasEnPassantCapture(eng) {
		p.ep = noSquare
	}
	return p, nil
}
