package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/ethereum/go-ethereum/common"

	"github.com/arbiter-chain/arbiter/offchain/bridge"
)

// The key attributes of the table: a table for this package must have
// PartitionKey (type S) as its partition key and SortKey (type N) as its
// sort key.
const (
	PartitionKey = "pk"
	SortKey      = "sk"
)

// IAMActions are the DynamoDB actions a Store performs on its table; a
// role running the bridge needs exactly these.
var IAMActions = []string{"dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"}

// Attribute names of the single-table design (see the package doc).
const (
	attrPK          = PartitionKey
	attrSK          = SortKey
	attrWhite       = "white"
	attrBlack       = "black"
	attrStake       = "stake"
	attrMoveTimeout = "moveTimeout"
	attrState       = "state"
	attrAccepted    = "accepted"
)

// gameSK is the sort key of the game item.
const gameSK = 0

// maxQueryLimit bounds the Limit of one Query; States pages through more.
const maxQueryLimit = 1000

// keyNames maps the placeholders of every expression to the key
// attributes.
var keyNames = map[string]string{"#pk": attrPK, "#sk": attrSK}

// Store is a bridge.Store on one DynamoDB table. Any number of Stores, in
// any number of processes, may share the table.
type Store struct {
	client *dynamodb.Client
	table  *string
	poll   *pollers
}

// Open connects to the table the options name and checks that it exists
// with this package's key schema, so that a bridge refuses to start on a
// table it cannot use or a server it cannot reach.
func Open(ctx context.Context, o Options) (*Store, error) {
	client, err := o.client(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkTable(ctx, client, o.Table); err != nil {
		return nil, err
	}
	s := &Store{client: client, table: aws.String(o.Table)}
	s.poll = newPollers(o.pollInterval(), s.headPly)
	return s, nil
}

// Close stops the store's pollers. Watch channels stop receiving.
func (s *Store) Close() error {
	s.poll.close()
	return nil
}

// key returns the primary key of a game's item at sk.
func key(id common.Hash, sk uint32) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: id.Hex()},
		attrSK: num(uint64(sk)),
	}
}

func num(n uint64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatUint(n, 10)}
}

// CreateGame implements bridge.Store.
func (s *Store) CreateGame(ctx context.Context, g bridge.GameRecord) (bridge.GameRecord, error) {
	if err := bridge.ValidateGame(g); err != nil {
		return bridge.GameRecord{}, err
	}
	stake := g.Stake
	if stake == nil {
		stake = new(big.Int)
	}
	item := key(g.ID, gameSK)
	item[attrWhite] = &types.AttributeValueMemberS{Value: g.White.Hex()}
	item[attrBlack] = &types.AttributeValueMemberS{Value: g.Black.Hex()}
	item[attrStake] = &types.AttributeValueMemberS{Value: stake.String()}
	item[attrMoveTimeout] = num(g.MoveTimeout)
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                s.table,
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK},
	})
	var failed *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		out := g
		out.Stake = new(big.Int).Set(stake)
		return out, nil
	case errors.As(err, &failed):
		return s.Game(ctx, g.ID) // the first writer's game
	default:
		return bridge.GameRecord{}, fmt.Errorf("dynamostore: put game %s: %w", g.ID, err)
	}
}

// Game implements bridge.Store.
func (s *Store) Game(ctx context.Context, id common.Hash) (bridge.GameRecord, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.table, Key: key(id, gameSK), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return bridge.GameRecord{}, fmt.Errorf("dynamostore: get game %s: %w", id, err)
	}
	if out.Item == nil {
		return bridge.GameRecord{}, bridge.ErrNotFound
	}
	return decodeGame(id, out.Item)
}

// Head implements bridge.Store.
func (s *Store) Head(ctx context.Context, id common.Hash) (bridge.Record, bool, error) {
	items, err := s.newest(ctx, id, false)
	if err != nil || len(items) == 0 {
		return bridge.Record{}, false, err
	}
	rec, err := decodeState(id, items[0])
	return rec, err == nil, err
}

// headPly returns the newest stored ply of a game, 0 if none.
func (s *Store) headPly(ctx context.Context, id common.Hash) (uint32, error) {
	items, err := s.newest(ctx, id, true)
	if err != nil || len(items) == 0 {
		return 0, err
	}
	return sortKey(items[0])
}

// newest returns the item of the game's newest state, if it has one; with
// keysOnly, just its key.
func (s *Store) newest(ctx context.Context, id common.Hash, keysOnly bool) ([]map[string]types.AttributeValue, error) {
	in := &dynamodb.QueryInput{
		TableName:                 s.table,
		KeyConditionExpression:    aws.String("#pk = :pk AND #sk > :game"),
		ExpressionAttributeNames:  keyNames,
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: id.Hex()}, ":game": num(gameSK)},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(1),
		ConsistentRead:            aws.Bool(true),
	}
	if keysOnly {
		in.ProjectionExpression = aws.String("#sk")
	}
	out, err := s.client.Query(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("dynamostore: newest state of %s: %w", id, err)
	}
	return out.Items, nil
}

// States implements bridge.Store.
func (s *Store) States(ctx context.Context, id common.Hash, from uint32, limit int) ([]bridge.Record, error) {
	if limit <= 0 {
		return nil, nil
	}
	in := &dynamodb.QueryInput{
		TableName:                 s.table,
		KeyConditionExpression:    aws.String("#pk = :pk AND #sk >= :from"),
		ExpressionAttributeNames:  keyNames,
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: id.Hex()}, ":from": num(uint64(max(from, 1)))},
		ScanIndexForward:          aws.Bool(true),
		ConsistentRead:            aws.Bool(true),
	}
	var out []bridge.Record
	for len(out) < limit {
		in.Limit = aws.Int32(int32(min(limit-len(out), maxQueryLimit)))
		page, err := s.client.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("dynamostore: states of %s from %d: %w", id, from, err)
		}
		for _, item := range page.Items {
			rec, err := decodeState(id, item)
			if err != nil {
				return nil, err
			}
			out = append(out, rec)
		}
		if page.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	return out, nil
}

// Append implements bridge.Store: a consistent read that item ply − 1
// exists, then a put of item ply conditioned on its absence (see the
// package doc for why that is a compare-and-set).
func (s *Store) Append(ctx context.Context, rec bridge.Record) error {
	if err := bridge.ValidateRecord(rec); err != nil {
		return err
	}
	id, ply := rec.State.State.GameID, rec.Ply()
	if ply == 0 {
		return fmt.Errorf("%w: ply 0 is the start state", bridge.ErrConflict)
	}
	prev, err := s.exists(ctx, id, ply-1)
	if err != nil {
		return err
	}
	if !prev {
		if ply == 1 {
			return bridge.ErrNotFound // item 0 is the game
		}
		game, err := s.exists(ctx, id, gameSK)
		switch {
		case err != nil:
			return err
		case !game:
			return bridge.ErrNotFound
		}
		return fmt.Errorf("%w: ply %d of %s is not stored", bridge.ErrConflict, ply-1, id)
	}
	js, err := rec.State.MarshalJSON()
	if err != nil {
		return fmt.Errorf("%w: %w", bridge.ErrBadRecord, err)
	}
	item := key(id, ply)
	item[attrState] = &types.AttributeValueMemberS{Value: string(js)}
	item[attrAccepted] = &types.AttributeValueMemberN{Value: strconv.FormatInt(rec.Accepted.UnixNano(), 10)}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                s.table,
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK},
	})
	var failed *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &failed):
		return fmt.Errorf("%w: ply %d of %s is already stored", bridge.ErrConflict, ply, id)
	case err != nil:
		return fmt.Errorf("dynamostore: put ply %d of %s: %w", ply, id, err)
	}
	s.poll.notify(id)
	return nil
}

// exists reads, strongly consistently, whether the game's item at sk is
// stored.
func (s *Store) exists(ctx context.Context, id common.Hash, sk uint32) (bool, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                s.table,
		Key:                      key(id, sk),
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("#sk"),
		ExpressionAttributeNames: map[string]string{"#sk": attrSK},
	})
	if err != nil {
		return false, fmt.Errorf("dynamostore: get item %d of %s: %w", sk, id, err)
	}
	return out.Item != nil, nil
}

// Watch implements bridge.Store by polling; see the package doc.
func (s *Store) Watch(ctx context.Context, id common.Hash) (<-chan struct{}, error) {
	return s.poll.watch(ctx, id)
}

func decodeGame(id common.Hash, item map[string]types.AttributeValue) (bridge.GameRecord, error) {
	white, err1 := str(item, attrWhite)
	black, err2 := str(item, attrBlack)
	stakeS, err3 := str(item, attrStake)
	timeout, err4 := number(item, attrMoveTimeout, math.MaxUint64)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return bridge.GameRecord{}, fmt.Errorf("dynamostore: stored game %s: %w", id, err)
	}
	stake, ok := new(big.Int).SetString(stakeS, 10)
	if !ok || !common.IsHexAddress(white) || !common.IsHexAddress(black) {
		return bridge.GameRecord{}, fmt.Errorf("dynamostore: stored game %s: malformed player or stake", id)
	}
	return bridge.GameRecord{
		ID: id, White: common.HexToAddress(white), Black: common.HexToAddress(black),
		Stake: stake, MoveTimeout: timeout,
	}, nil
}

func decodeState(id common.Hash, item map[string]types.AttributeValue) (bridge.Record, error) {
	ply, err := sortKey(item)
	if err != nil {
		return bridge.Record{}, fmt.Errorf("dynamostore: stored state of %s: %w", id, err)
	}
	js, err1 := str(item, attrState)
	accepted, err2 := signed(item, attrAccepted)
	if err := errors.Join(err1, err2); err != nil {
		return bridge.Record{}, fmt.Errorf("dynamostore: stored ply %d of %s: %w", ply, id, err)
	}
	var rec bridge.Record
	if err := rec.State.UnmarshalJSON([]byte(js)); err != nil {
		return bridge.Record{}, fmt.Errorf("dynamostore: stored ply %d of %s: %w", ply, id, err)
	}
	if rec.State.State.GameID != id || rec.Ply() != ply {
		return bridge.Record{}, fmt.Errorf("dynamostore: item %d of %s holds ply %d of %s", ply, id, rec.Ply(), rec.State.State.GameID)
	}
	rec.Accepted = time.Unix(0, accepted)
	return rec, nil
}

// sortKey returns an item's sk as a ply.
func sortKey(item map[string]types.AttributeValue) (uint32, error) {
	n, err := number(item, attrSK, math.MaxUint32)
	return uint32(n), err
}

func str(item map[string]types.AttributeValue, name string) (string, error) {
	v, ok := item[name].(*types.AttributeValueMemberS)
	if !ok {
		return "", fmt.Errorf("attribute %s is missing or not a string", name)
	}
	return v.Value, nil
}

// number returns a numeric attribute in [0, limit].
func number(item map[string]types.AttributeValue, name string, limit uint64) (uint64, error) {
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("attribute %s is missing or not a number", name)
	}
	n, err := strconv.ParseUint(v.Value, 10, 64)
	if err != nil || n > limit {
		return 0, fmt.Errorf("attribute %s is %q, want an integer in [0, %d]", name, v.Value, limit)
	}
	return n, nil
}

// signed returns a numeric attribute that fits an int64.
func signed(item map[string]types.AttributeValue, name string) (int64, error) {
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("attribute %s is missing or not a number", name)
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("attribute %s is %q, want a 64-bit integer", name, v.Value)
	}
	return n, nil
}
