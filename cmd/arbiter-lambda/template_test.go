package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v2"

	"github.com/arbiter-chain/arbiter/offchain/bridge/dynamostore"
)

// TestDeployTemplate checks that deploy/bridge-lambda.yaml agrees with
// the code it deploys: the table has the keys dynamostore expects, the
// role grants exactly the actions the store performs, the function gets
// the environment it reads, and the API routes POST /rpc to it. (Tags
// such as !Ref and !Sub are read as their plain values.)
func TestDeployTemplate(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/bridge-lambda.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tpl map[string]any
	if err := yaml.Unmarshal(raw, &tpl); err != nil {
		t.Fatalf("template: %v", err)
	}
	table := dig(t, tpl, "Resources", "StatesTable", "Properties")
	types := map[string]string{}
	for _, a := range list(t, table["AttributeDefinitions"]) {
		m := obj(t, a)
		types[fmt.Sprint(m["AttributeName"])] = fmt.Sprint(m["AttributeType"])
	}
	keys := map[string]string{}
	for _, k := range list(t, table["KeySchema"]) {
		m := obj(t, k)
		keys[fmt.Sprint(m["KeyType"])] = fmt.Sprint(m["AttributeName"])
	}
	if keys["HASH"] != dynamostore.PartitionKey || keys["RANGE"] != dynamostore.SortKey ||
		types[dynamostore.PartitionKey] != "S" || types[dynamostore.SortKey] != "N" || len(keys) != 2 {
		t.Errorf("table keys: have %v with types %v, want %s (S) HASH and %s (N) RANGE", keys, types, dynamostore.PartitionKey, dynamostore.SortKey)
	}

	fn := dig(t, tpl, "Resources", "BridgeFunction", "Properties")
	if fn["Handler"] != "bootstrap" || fn["Runtime"] != "provided.al2023" {
		t.Errorf("function: have handler %v, runtime %v; want bootstrap on provided.al2023", fn["Handler"], fn["Runtime"])
	}
	vars := dig(t, fn, "Environment", "Variables")
	for _, name := range []string{envStore, envNode, envChainID} {
		if _, ok := vars[name]; !ok {
			t.Errorf("function environment: %s missing", name)
		}
	}
	store := strings.NewReplacer("${StatesTable}", "arbiter-bridge", "${AWS::Region}", "eu-west-1").Replace(fmt.Sprint(vars[envStore]))
	if o, err := dynamostore.ParseURL(store); err != nil || o.Table != "arbiter-bridge" || o.Region != "eu-west-1" {
		t.Errorf("%s: %q gives %+v, %v", envStore, store, o, err)
	}

	var granted []string
	for _, p := range list(t, fn["Policies"]) {
		m, ok := p.(map[any]any)
		if !ok {
			continue // a managed policy's name
		}
		for _, st := range list(t, m["Statement"]) {
			for _, a := range list(t, obj(t, st)["Action"]) {
				granted = append(granted, fmt.Sprint(a))
			}
		}
	}
	slices.Sort(granted)
	want := slices.Sorted(slices.Values(dynamostore.IAMActions))
	if !slices.Equal(granted, want) {
		t.Errorf("granted actions: have %v, want %v", granted, want)
	}

	rpc := dig(t, fn, "Events", "Rpc")
	props := obj(t, rpc["Properties"])
	if rpc["Type"] != "HttpApi" || props["Path"] != "/rpc" || props["Method"] != "POST" {
		t.Errorf("event: have %v %v, want HttpApi POST /rpc", rpc["Type"], props)
	}
}

// dig walks nested mappings by key.
func dig(t *testing.T, m map[string]any, path ...string) map[string]any {
	t.Helper()
	var cur any = m
	for _, k := range path {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[k]
		case map[any]any:
			cur = c[k]
		default:
			t.Fatalf("template: %s is not a mapping", k)
		}
	}
	return obj(t, cur)
}

func obj(t *testing.T, v any) map[string]any {
	t.Helper()
	switch m := v.(type) {
	case map[string]any:
		return m
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, x := range m {
			out[fmt.Sprint(k)] = x
		}
		return out
	}
	t.Fatalf("template: have %T, want a mapping", v)
	return nil
}

func list(t *testing.T, v any) []any {
	t.Helper()
	l, ok := v.([]any)
	if !ok {
		t.Fatalf("template: have %T, want a list", v)
	}
	return l
}
