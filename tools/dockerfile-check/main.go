// Command dockerfile-check checks a Dockerfile without a Docker engine.
//
// It parses the file with BuildKit's own Dockerfile parser and instruction parser (the code `docker build`
// runs), with BuildKit's build-check linter enabled (the rules of `docker build --check` that run at parse
// time), and then checks what the exfilwatch image promises:
//   - a multi-stage build whose final stage copies the binary from an earlier stage (COPY --from=<stage>);
//   - every base image has an explicit tag or digest (no implicit :latest);
//   - the final stage runs as a numeric non-root user (Kubernetes runAsNonRoot verifies numeric ids only);
//   - ENTRYPOINT in exec (JSON) form, so SIGTERM reaches the process and the drain runs;
//   - no ADD of remote URLs;
//   - every COPY source from the build context exists and is not excluded by .dockerignore.
//
// Usage: dockerfile-check [-context DIR] [Dockerfile]   (defaults: the Dockerfile's directory, ./Dockerfile)
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

func main() {
	contextDir := flag.String("context", "", "build context directory (default: the Dockerfile's directory)")
	flag.Parse()
	path := "Dockerfile"
	if flag.NArg() > 0 {
		path = flag.Arg(0)
	}
	if *contextDir == "" {
		*contextDir = filepath.Dir(path)
	}
	problems, err := check(path, *contextDir)
	if err != nil {
		fmt.Printf("FAIL %s: %v\n", path, err)
		os.Exit(1)
	}
	for _, p := range problems {
		fmt.Printf("FAIL %s: %s\n", path, p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
	fmt.Printf("ok   %s: parsed by BuildKit, build checks clean, multi-stage, non-root, exec-form entrypoint\n", path)
}

func check(path, contextDir string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	result, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	var problems []string
	for _, w := range result.Warnings {
		problems = append(problems, "parser warning: "+w.Short)
	}
	lint := linter.New(&linter.Config{
		Warn: func(rule, description, url, msg string, location []parser.Range) {
			line := 0
			if len(location) > 0 {
				line = location[0].Start.Line
			}
			problems = append(problems, fmt.Sprintf("line %d: build check %s: %s (%s)", line, rule, msg, url))
		},
	})
	stages, metaArgs, err := instructions.Parse(result.AST, lint)
	if err != nil {
		return nil, fmt.Errorf("instructions: %w", err)
	}
	if len(stages) < 2 {
		problems = append(problems, "not a multi-stage build")
	}

	args := map[string]string{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				args[kv.Key] = *kv.Value
			}
		}
	}
	stageNames := map[string]bool{}
	for i, stage := range stages {
		base := expand(stage.BaseName, args)
		if !stageNames[strings.ToLower(base)] && base != "scratch" {
			if !hasTagOrDigest(base) {
				problems = append(problems, fmt.Sprintf("stage %d: base image %q has no tag or digest", i, base))
			}
		}
		if stage.Name != "" {
			stageNames[strings.ToLower(stage.Name)] = true
		}
	}

	ignore, err := readDockerignore(contextDir)
	if err != nil {
		return nil, err
	}
	final := stages[len(stages)-1]
	var user string
	var entrypoint *instructions.EntrypointCommand
	copiesFromStage := false
	for si, stage := range stages {
		for _, cmd := range stage.Commands {
			switch c := cmd.(type) {
			case *instructions.AddCommand:
				for _, src := range c.SourcePaths {
					if strings.Contains(src, "://") {
						problems = append(problems, fmt.Sprintf("ADD %s: remote sources are not reproducible; fetch in a RUN step with a checksum", src))
					}
				}
			case *instructions.CopyCommand:
				if c.From != "" {
					if !stageNames[strings.ToLower(c.From)] {
						problems = append(problems, fmt.Sprintf("COPY --from=%s: no such stage", c.From))
					}
					if si == len(stages)-1 {
						copiesFromStage = true
					}
					continue
				}
				for _, src := range c.SourcePaths {
					problems = append(problems, checkContextSource(contextDir, src, ignore)...)
				}
			case *instructions.UserCommand:
				if si == len(stages)-1 {
					user = c.User
				}
			case *instructions.EntrypointCommand:
				if si == len(stages)-1 {
					entrypoint = c
				}
			}
		}
	}
	if !copiesFromStage {
		problems = append(problems, fmt.Sprintf("final stage %q copies nothing from a build stage", final.Name))
	}
	uid := strings.SplitN(user, ":", 2)[0]
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		problems = append(problems, fmt.Sprintf("final stage must set USER to a numeric non-root uid (got %q)", user))
	}
	if entrypoint == nil {
		problems = append(problems, "final stage has no ENTRYPOINT")
	} else if entrypoint.PrependShell {
		problems = append(problems, "ENTRYPOINT must use the exec (JSON) form so the process receives SIGTERM")
	}
	return problems, nil
}

var varRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

func expand(s string, args map[string]string) string {
	return varRef.ReplaceAllStringFunc(s, func(m string) string {
		name := varRef.FindStringSubmatch(m)[1]
		return args[name]
	})
}

func hasTagOrDigest(image string) bool {
	if strings.Contains(image, "@sha256:") {
		return true
	}
	last := image[strings.LastIndex(image, "/")+1:]
	i := strings.Index(last, ":")
	return i > 0 && i < len(last)-1 && !strings.HasSuffix(last, ":latest")
}

func readDockerignore(contextDir string) (*patternmatcher.PatternMatcher, error) {
	f, err := os.Open(filepath.Join(contextDir, ".dockerignore"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf(".dockerignore: %w", err)
	}
	return patternmatcher.New(patterns)
}

// checkContextSource reports a COPY source that is missing or that .dockerignore leaves out of the context.
func checkContextSource(contextDir, src string, ignore *patternmatcher.PatternMatcher) []string {
	clean := filepath.Clean(strings.TrimPrefix(src, "/"))
	matches, err := filepath.Glob(filepath.Join(contextDir, clean))
	if err != nil || len(matches) == 0 {
		return []string{fmt.Sprintf("COPY %s: not found in the build context %s", src, contextDir)}
	}
	if ignore == nil {
		return nil
	}
	var problems []string
	for _, m := range matches {
		excluded := false
		_ = filepath.Walk(m, func(p string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() || excluded {
				return nil
			}
			r, _ := filepath.Rel(contextDir, p)
			if skip, _ := ignore.MatchesOrParentMatches(filepath.ToSlash(r)); skip {
				excluded = true
				problems = append(problems, fmt.Sprintf("COPY %s: %s is excluded by .dockerignore", src, r))
			}
			return nil
		})
	}
	return problems
}
