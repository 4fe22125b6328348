package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Bounds and default of Options.PollInterval.
const (
	MinPollInterval     = 10 * time.Millisecond
	MaxPollInterval     = 10 * time.Second
	DefaultPollInterval = 250 * time.Millisecond
)

// Scheme is the URL scheme ParseURL reads.
const Scheme = "dynamodb"

// localRegion is the region signed into requests to a server on this
// machine when none is configured; local servers accept any.
const localRegion = "us-east-1"

// Errors of ParseURL and Open.
var (
	// ErrBadURL: the store URL is not dynamodb://TABLE[?region=…&endpoint=…&poll=…].
	ErrBadURL = errors.New("dynamostore: bad URL")

	// ErrTable: the table is missing or its key schema is not this
	// package's.
	ErrTable = errors.New("dynamostore: table unusable")
)

// Options say which table to use and how to reach it.
type Options struct {
	// Table is the table's name.
	Table string
	// Region is the AWS region; empty means the SDK's default (AWS_REGION,
	// set in Lambda), or us-east-1 for a server on this machine.
	Region string
	// Endpoint, if set, replaces AWS's endpoint: a DynamoDB-compatible
	// server such as http://127.0.0.1:8000. For a loopback endpoint the
	// EC2 instance-metadata credentials are never asked for, and requests
	// are signed with placeholder keys if no others are configured.
	Endpoint string
	// PollInterval is how often a watched game's newest ply is read;
	// zero means DefaultPollInterval. It is clamped to
	// [MinPollInterval, MaxPollInterval].
	PollInterval time.Duration
	// Credentials, if set, replaces the SDK's default credential chain.
	Credentials aws.CredentialsProvider
}

// tableName is what DynamoDB accepts as a table name.
var tableName = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,255}$`)

// ParseURL reads dynamodb://TABLE with the optional query parameters
// region, endpoint (an http or https URL) and poll (a Go duration):
//
//	dynamodb://arbiter-bridge?region=eu-west-1
//	dynamodb://arbiter-bridge?endpoint=http://127.0.0.1:8000&poll=100ms
//
// Unknown parameters are refused, so a misspelt one is not silently
// ignored.
func ParseURL(raw string) (Options, error) {
	rest, ok := strings.CutPrefix(raw, Scheme+"://")
	if !ok {
		return Options{}, fmt.Errorf("%w: want %s://TABLE", ErrBadURL, Scheme)
	}
	table, query, _ := strings.Cut(rest, "?")
	if !tableName.MatchString(table) {
		return Options{}, fmt.Errorf("%w: table name %q: want 3 to 255 of A-Z a-z 0-9 _ . -", ErrBadURL, table)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return Options{}, fmt.Errorf("%w: %w", ErrBadURL, err)
	}
	o := Options{Table: table}
	for k, v := range q {
		if len(v) != 1 {
			return Options{}, fmt.Errorf("%w: parameter %q given %d times", ErrBadURL, k, len(v))
		}
		switch k {
		case "region":
			o.Region = v[0]
		case "endpoint":
			u, err := url.Parse(v[0])
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return Options{}, fmt.Errorf("%w: endpoint %q: want http(s)://HOST[:PORT]", ErrBadURL, v[0])
			}
			o.Endpoint = v[0]
		case "poll":
			d, err := time.ParseDuration(v[0])
			if err != nil || d <= 0 {
				return Options{}, fmt.Errorf("%w: poll %q: want a positive duration such as 250ms", ErrBadURL, v[0])
			}
			o.PollInterval = d
		default:
			return Options{}, fmt.Errorf("%w: unknown parameter %q (known: region, endpoint, poll)", ErrBadURL, k)
		}
	}
	return o, nil
}

// pollInterval returns the clamped interval.
func (o Options) pollInterval() time.Duration {
	if o.PollInterval == 0 {
		return DefaultPollInterval
	}
	return min(max(o.PollInterval, MinPollInterval), MaxPollInterval)
}

// local reports whether the endpoint is on this machine.
func (o Options) local() bool {
	if o.Endpoint == "" {
		return false
	}
	u, err := url.Parse(o.Endpoint)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// client builds the DynamoDB client the options describe.
func (o Options) client(ctx context.Context) (*dynamodb.Client, error) {
	var opts []func(*config.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(o.Credentials))
	}
	local := o.local()
	if local {
		opts = append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("dynamostore: AWS configuration: %w", err)
	}
	if local {
		if cfg.Region == "" {
			cfg.Region = localRegion
		}
		if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
			cfg.Credentials = credentials.NewStaticCredentialsProvider("local", "local", "")
		}
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("dynamostore: no region: set region= in the URL or AWS_REGION")
	}
	return dynamodb.NewFromConfig(cfg, func(do *dynamodb.Options) {
		if o.Endpoint != "" {
			do.BaseEndpoint = aws.String(o.Endpoint)
		}
	}), nil
}
