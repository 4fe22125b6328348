// Package storetest is the conformance suite every bridge.Store runs, and
// the test harness for the external databases the stores talk to.
//
// Run checks the guarantees listed on bridge.Store against fresh,
// real databases: durability across closing every handle, compare-and-set
// under concurrent appends from many goroutines and many handles,
// read-your-writes across handles, Watch delivery across handles,
// history paging, unknown games and out-of-range records.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) *storetest.Backend {
//			url := storetest.PostgresDB(t) // a fresh database
//			return &storetest.Backend{Durable: true, Open: func() (bridge.ClosableStore, error) {
//				return pgstore.Open(context.Background(), url)
//			}}
//		})
//	}
//
// PostgresDB and DynamoTable give each test a fresh database or table on
// the servers named by ARBITER_TEST_POSTGRES (a postgres:// URL of a role
// that may create databases) and ARBITER_TEST_DYNAMODB (the http:// endpoint
// of a DynamoDB-compatible server). When a variable is unset the harness
// starts the server itself, once per test binary, if it finds it
// (PostgreSQL's initdb, or node and .ci/dynalite/node_modules), and
// otherwise skips the test saying what to install; with ARBITER_CI=1 a
// missing server fails the test instead. A package whose tests use them
// calls Main from its TestMain so that servers it started are stopped.
//
// It is imported by tests only; it may import offchain/bridge and its
// stores and must not import node/, contracts/, consensus/, cmd/ or
// examples/.
package storetest
