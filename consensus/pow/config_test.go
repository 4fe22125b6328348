package pow

import (
	"encoding/json"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{name: "valid", cfg: Config{MinDifficulty: 1, InitialDifficulty: 1}},
		{name: "initial above minimum", cfg: Config{MinDifficulty: 100, InitialDifficulty: 5000}},
		{name: "zero value", cfg: Config{}, wantErr: true},
		{name: "zero minimum", cfg: Config{MinDifficulty: 0, InitialDifficulty: 10}, wantErr: true},
		{name: "zero initial", cfg: Config{MinDifficulty: 1, InitialDifficulty: 0}, wantErr: true},
		{name: "initial below minimum", cfg: Config{MinDifficulty: 10, InitialDifficulty: 9}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err != nil) != tt.wantErr {
				t.Fatalf("Validate() = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestConfigJSON(t *testing.T) {
	var genesis struct {
		BlockTime uint64 `json:"blockTime"`
		PoW       Config `json:"pow"`
	}
	in := `{"blockTime": 5, "pow": {"minDifficulty": 1024, "initialDifficulty": 131072}}`
	if err := json.Unmarshal([]byte(in), &genesis); err != nil {
		t.Fatal(err)
	}
	want := Config{MinDifficulty: 1024, InitialDifficulty: 131072}
	if genesis.PoW != want {
		t.Fatalf("decoded %+v, want %+v", genesis.PoW, want)
	}
	if err := genesis.PoW.Validate(); err != nil {
		t.Fatal(err)
	}
}
