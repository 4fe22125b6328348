package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// tablePoll is how often CreateTable asks whether a new table is active.
const tablePoll = 50 * time.Millisecond

// checkTable fails unless the table exists, is usable, and has the key
// schema of the package doc.
func checkTable(ctx context.Context, c *dynamodb.Client, table string) error {
	out, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	var missing *types.ResourceNotFoundException
	switch {
	case errors.As(err, &missing):
		return fmt.Errorf("%w: table %q does not exist (deploy/bridge-lambda.yaml creates it)", ErrTable, table)
	case err != nil:
		return fmt.Errorf("dynamostore: describe table %q: %w", table, err)
	}
	d := out.Table
	attrTypes := map[string]types.ScalarAttributeType{}
	for _, a := range d.AttributeDefinitions {
		attrTypes[aws.ToString(a.AttributeName)] = a.AttributeType
	}
	keys := map[string]string{}
	for _, k := range d.KeySchema {
		keys[string(k.KeyType)] = aws.ToString(k.AttributeName)
	}
	if len(d.KeySchema) != 2 || keys["HASH"] != attrPK || keys["RANGE"] != attrSK || attrTypes[attrPK] != "S" || attrTypes[attrSK] != "N" {
		return fmt.Errorf("%w: table %q must have partition key %s (S) and sort key %s (N)", ErrTable, table, attrPK, attrSK)
	}
	if d.TableStatus == "CREATING" || d.TableStatus == "DELETING" || d.TableStatus == "ARCHIVED" || d.TableStatus == "INACCESSIBLE_ENCRYPTION_CREDENTIALS" {
		return fmt.Errorf("%w: table %q is %s", ErrTable, table, d.TableStatus)
	}
	return nil
}

// CreateTable creates the table the options name with this package's key
// schema, billed per request, and waits until it is active. A table that
// already exists with that schema is left as it is. It is for local
// servers and tests; in AWS the deployment template creates the table.
func CreateTable(ctx context.Context, o Options) error {
	c, err := o.client(ctx)
	if err != nil {
		return err
	}
	_, err = c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(o.Table),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(attrPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrSK), AttributeType: types.ScalarAttributeTypeN},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(attrSK), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("dynamostore: create table %q: %w", o.Table, err)
	}
	for {
		out, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(o.Table)})
		if err != nil {
			return fmt.Errorf("dynamostore: describe table %q: %w", o.Table, err)
		}
		if out.Table.TableStatus == types.TableStatusActive {
			return checkTable(ctx, c, o.Table)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(tablePoll):
		}
	}
}

// DeleteTable deletes the table the options name, for tests.
func DeleteTable(ctx context.Context, o Options) error {
	c, err := o.client(ctx)
	if err != nil {
		return err
	}
	if _, err := c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(o.Table)}); err != nil {
		return fmt.Errorf("dynamostore: delete table %q: %w", o.Table, err)
	}
	return nil
}
