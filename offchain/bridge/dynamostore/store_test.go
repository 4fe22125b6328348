package dynamostore_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/arbiter-chain/arbiter/offchain/bridge"
	"github.com/arbiter-chain/arbiter/offchain/bridge/dynamostore"
	"github.com/arbiter-chain/arbiter/offchain/bridge/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// TestConformance runs the Store conformance suite on the
// DynamoDB-compatible server.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *storetest.Backend {
		o := storetest.DynamoTable(t)
		return &storetest.Backend{Durable: true, Open: func() (bridge.ClosableStore, error) {
			return dynamostore.Open(context.Background(), o)
		}}
	})
}

func TestParseURL(t *testing.T) {
	for _, tt := range []struct {
		url  string
		want dynamostore.Options
		err  bool
	}{
		{url: "dynamodb://arbiter-bridge", want: dynamostore.Options{Table: "arbiter-bridge"}},
		{url: "dynamodb://arbiter_bridge.v1?region=eu-west-1", want: dynamostore.Options{Table: "arbiter_bridge.v1", Region: "eu-west-1"}},
		{url: "dynamodb://t12?endpoint=http://127.0.0.1:8000&poll=100ms", want: dynamostore.Options{Table: "t12", Endpoint: "http://127.0.0.1:8000", PollInterval: 100 * time.Millisecond}},
		{url: "dynamodb://t12?endpoint=https%3A%2F%2Fddb.example%3A443", want: dynamostore.Options{Table: "t12", Endpoint: "https://ddb.example:443"}},
		{url: "dynamo://t12", err: true},
		{url: "dynamodb://", err: true},
		{url: "dynamodb://ab", err: true},
		{url: "dynamodb://t12/x", err: true},
		{url: "dynamodb://t12?regoin=eu-west-1", err: true},
		{url: "dynamodb://t12?region=a&region=b", err: true},
		{url: "dynamodb://t12?endpoint=127.0.0.1:8000", err: true},
		{url: "dynamodb://t12?endpoint=ftp://h", err: true},
		{url: "dynamodb://t12?poll=soon", err: true},
		{url: "dynamodb://t12?poll=-1s", err: true},
		{url: "dynamodb://t12?%zz", err: true},
	} {
		t.Run(tt.url, func(t *testing.T) {
			got, err := dynamostore.ParseURL(tt.url)
			if tt.err {
				if !errors.Is(err, dynamostore.ErrBadURL) {
					t.Fatalf("have %+v, %v; want ErrBadURL", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("have %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestOpenErrors checks that Open refuses a table it cannot use and a
// server it cannot reach.
func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	good := storetest.DynamoTable(t)

	wrong := good
	wrong.Table = good.Table + "-wrong-keys"
	client := dynamodb.New(dynamodb.Options{
		Region: good.Region, BaseEndpoint: aws.String(good.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(wrong.Table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = dynamostore.DeleteTable(context.Background(), wrong) }()

	missing := good
	missing.Table = good.Table + "-missing"
	unreachable := good
	unreachable.Endpoint = "http://127.0.0.1:1"

	for _, tt := range []struct {
		name  string
		o     dynamostore.Options
		table bool // the error is ErrTable
	}{
		{"missing table", missing, true},
		{"wrong key schema", wrong, true},
		{"nobody listening", unreachable, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := dynamostore.Open(ctx, tt.o)
			if err == nil {
				s.Close()
				t.Fatalf("Open: have nil, want an error")
			}
			if errors.Is(err, dynamostore.ErrTable) != tt.table {
				t.Fatalf("Open: have %v; want ErrTable: %v", err, tt.table)
			}
		})
	}
}
