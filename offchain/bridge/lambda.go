package bridge

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// LambdaFunc handles API Gateway HTTP API events (payload format 2.0); pass
// it to lambda.Start.
type LambdaFunc func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// LambdaHandler returns a Lambda handler serving the same JSON-RPC methods
// as POST /rpc (a path ending in /rpc, to allow a stage prefix), with the
// same body cap. WebSocket subscriptions are not available over Lambda.
// It never returns an error: failures are HTTP responses.
//
//	b, _ := bridge.New(cfg, store, arbiter)
//	lambda.Start(b.LambdaHandler())
func (b *Bridge) LambdaHandler() LambdaFunc {
	h := b.rpcHandler()
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		path := ev.RawPath
		if path == "" {
			path = ev.RequestContext.HTTP.Path
		}
		if path != "/rpc" && !strings.HasSuffix(path, "/rpc") {
			return lambdaText(http.StatusNotFound, "not found"), nil
		}
		if ev.RequestContext.HTTP.Method != http.MethodPost {
			return lambdaText(http.StatusMethodNotAllowed, "method not allowed"), nil
		}
		body := []byte(ev.Body)
		if ev.IsBase64Encoded {
			if base64.StdEncoding.DecodedLen(len(ev.Body)) > b.cfg.MaxBodyBytes+2 {
				rec := newLambdaRecorder()
				b.tooLarge(rec)
				return rec.response(), nil
			}
			dec, err := base64.StdEncoding.DecodeString(ev.Body)
			if err != nil {
				return lambdaText(http.StatusBadRequest, "bad base64 body"), nil
			}
			body = dec
		}
		return b.lambdaServe(ctx, h, ev, body), nil
	}
}

// lambdaServe runs h on the event as an HTTP request.
func (b *Bridge) lambdaServe(ctx context.Context, h http.Handler, ev events.APIGatewayV2HTTPRequest, body []byte) events.APIGatewayV2HTTPResponse {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/rpc", bytes.NewReader(body))
	if err != nil {
		return lambdaText(http.StatusBadRequest, "bad request")
	}
	for k, v := range ev.Headers {
		req.Header.Set(k, v)
	}
	req.ContentLength = int64(len(body))
	req.Host = ev.RequestContext.DomainName
	req.RemoteAddr = ev.RequestContext.HTTP.SourceIP
	rec := newLambdaRecorder()
	h.ServeHTTP(rec, req)
	return rec.response()
}

func lambdaText(status int, msg string) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"content-type": "text/plain; charset=utf-8"},
		Body:       msg + "\n",
	}
}

// lambdaRecorder collects a handler's response.
type lambdaRecorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func newLambdaRecorder() *lambdaRecorder { return &lambdaRecorder{header: make(http.Header)} }

func (r *lambdaRecorder) Header() http.Header { return r.header }

func (r *lambdaRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (r *lambdaRecorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}

// response converts what was recorded; API Gateway wants one value per
// header.
func (r *lambdaRecorder) response() events.APIGatewayV2HTTPResponse {
	resp := events.APIGatewayV2HTTPResponse{
		StatusCode: r.code,
		Headers:    make(map[string]string, len(r.header)),
		Body:       r.body.String(),
	}
	if resp.StatusCode == 0 {
		resp.StatusCode = http.StatusOK
	}
	for k, v := range r.header {
		resp.Headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	return resp
}
