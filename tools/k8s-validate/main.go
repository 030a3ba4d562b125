// Command k8s-validate checks rendered Kubernetes manifests (e.g. `helm template` output) without a cluster.
//
// Every YAML document is decoded strictly into the Go type the API server would use for its apiVersion/kind:
// k8s.io/api for the built-in kinds, the prometheus-operator types for ServiceMonitor/PrometheusRule and the
// KEDA types for ScaledObject/TriggerAuthentication. Like kube-apiserver's strict field validation, a field
// the type does not have, a duplicate key, a wrong type or a field whose case does not match fails; so does
// a kind this tool does not know. Then the objects are checked against each other the way a cluster would
// only reveal at run time: selectors that select the pods, named ports that exist, volumes that are
// declared, scale targets and ConfigMaps that are part of the release, valid names and labels.
//
// Usage: k8s-validate [-q] [-json OUT] [FILE|-]...   (no FILE: standard input). Exit status 0 when every
// document passes, 1 when any fails, 2 on a usage or read error. -json writes the decoded objects as one JSON
// array (typed round trip: what the API server would store, minus defaulting) for further assertions.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// kinds maps each supported apiVersion/kind to a constructor of its typed Go object.
var kinds = map[schema.GroupVersionKind]func() any{
	gvk("v1", "ConfigMap"):                            func() any { return &corev1.ConfigMap{} },
	gvk("v1", "Secret"):                               func() any { return &corev1.Secret{} },
	gvk("v1", "Service"):                              func() any { return &corev1.Service{} },
	gvk("v1", "ServiceAccount"):                       func() any { return &corev1.ServiceAccount{} },
	gvk("apps/v1", "Deployment"):                      func() any { return &appsv1.Deployment{} },
	gvk("apps/v1", "StatefulSet"):                     func() any { return &appsv1.StatefulSet{} },
	gvk("policy/v1", "PodDisruptionBudget"):           func() any { return &policyv1.PodDisruptionBudget{} },
	gvk("networking.k8s.io/v1", "NetworkPolicy"):      func() any { return &networkingv1.NetworkPolicy{} },
	gvk("autoscaling/v2", "HorizontalPodAutoscaler"):  func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	gvk("monitoring.coreos.com/v1", "ServiceMonitor"): func() any { return &monitoringv1.ServiceMonitor{} },
	gvk("monitoring.coreos.com/v1", "PrometheusRule"): func() any { return &monitoringv1.PrometheusRule{} },
	gvk("keda.sh/v1alpha1", "ScaledObject"):           func() any { return &kedav1alpha1.ScaledObject{} },
	gvk("keda.sh/v1alpha1", "TriggerAuthentication"):  func() any { return &kedav1alpha1.TriggerAuthentication{} },
}

func gvk(apiVersion, kind string) schema.GroupVersionKind {
	return schema.FromAPIVersionAndKind(apiVersion, kind)
}

// object is one decoded document.
type object struct {
	source string // file:document-number
	gvk    schema.GroupVersionKind
	meta   *metav1.ObjectMeta
	typed  any
}

func (o *object) String() string {
	return fmt.Sprintf("%s %s %s/%s", o.gvk.GroupVersion(), o.gvk.Kind, o.meta.Namespace, o.meta.Name)
}

func main() {
	quiet := flag.Bool("q", false, "print only failures and the summary")
	jsonOut := flag.String("json", "", "write the decoded objects as a JSON array to this file")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: k8s-validate [-q] [FILE|-]...  (strictly decodes Kubernetes manifests; no FILE reads stdin)")
		flag.PrintDefaults()
	}
	flag.Parse()
	files := flag.Args()
	if len(files) == 0 {
		files = []string{"-"}
	}

	var objects []*object
	failures := 0
	for _, name := range files {
		docs, err := readDocuments(name)
		if err != nil {
			fmt.Fprintf(os.Stderr, "k8s-validate: %v\n", err)
			os.Exit(2)
		}
		for i, doc := range docs {
			source := fmt.Sprintf("%s#%d", displayName(name), i+1)
			obj, err := decode(source, doc)
			if err != nil {
				failures++
				fmt.Printf("FAIL %s: %v\n", source, err)
				continue
			}
			if obj != nil {
				objects = append(objects, obj)
			}
		}
	}

	for _, o := range objects {
		errs := checkObject(o, objects)
		if len(errs) > 0 {
			failures++
			for _, e := range errs {
				fmt.Printf("FAIL %s (%s): %v\n", o, o.source, e)
			}
		} else if !*quiet {
			fmt.Printf("ok   %s\n", o)
		}
	}
	if len(objects) == 0 && failures == 0 {
		fmt.Println("FAIL no Kubernetes objects in the input")
		failures++
	}
	if *jsonOut != "" {
		typed := make([]any, len(objects))
		for i, o := range objects {
			typed[i] = o.typed
		}
		data, err := json.MarshalIndent(typed, "", "  ")
		if err == nil {
			err = os.WriteFile(*jsonOut, data, 0o644)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "k8s-validate: -json: %v\n", err)
			os.Exit(2)
		}
	}
	fmt.Printf("k8s-validate: %d objects, %d failed\n", len(objects), failures)
	if failures > 0 {
		os.Exit(1)
	}
}

func displayName(name string) string {
	if name == "-" {
		return "stdin"
	}
	return name
}

func readDocuments(name string) ([][]byte, error) {
	var r io.Reader
	if name == "-" {
		r = os.Stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var docs [][]byte
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", displayName(name), err)
		}
		docs = append(docs, doc)
	}
}

// decode returns nil, nil for an empty (comment-only) document.
func decode(source string, doc []byte) (*object, error) {
	// YAMLToJSONStrict refuses duplicate keys, as the API server does.
	data, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || string(data) == "null" {
		return nil, nil
	}
	var tm metav1.TypeMeta
	if err := kjson.UnmarshalCaseSensitivePreserveInts(data, &tm); err != nil {
		return nil, fmt.Errorf("not a Kubernetes object: %w", err)
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return nil, fmt.Errorf("apiVersion and kind are required (got apiVersion=%q kind=%q)", tm.APIVersion, tm.Kind)
	}
	k := gvk(tm.APIVersion, tm.Kind)
	newObject, ok := kinds[k]
	if !ok {
		return nil, fmt.Errorf("unknown kind %s %s: this validator knows %s", tm.APIVersion, tm.Kind, knownKinds())
	}
	typed := newObject()
	strictErrs, err := kjson.UnmarshalStrict(data, typed, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", tm.APIVersion, tm.Kind, err)
	}
	if len(strictErrs) > 0 {
		msgs := make([]string, len(strictErrs))
		for i, e := range strictErrs {
			msgs[i] = e.Error()
		}
		return nil, fmt.Errorf("%s %s: %s", tm.APIVersion, tm.Kind, strings.Join(msgs, "; "))
	}
	accessor, ok := typed.(metav1.ObjectMetaAccessor)
	if !ok {
		return nil, fmt.Errorf("%s %s has no metadata", tm.APIVersion, tm.Kind)
	}
	return &object{source: source, gvk: k, meta: accessor.GetObjectMeta().(*metav1.ObjectMeta), typed: typed}, nil
}

func knownKinds() string {
	var names []string
	for k := range kinds {
		names = append(names, k.GroupVersion().String()+" "+k.Kind)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// checkObject runs the per-kind checks plus the cross-object ones.
func checkObject(o *object, all []*object) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	addList := func(list field.ErrorList) {
		for _, e := range list {
			errs = append(errs, e)
		}
	}

	meta := o.meta
	if meta.Name == "" {
		add("metadata.name is required")
	} else {
		nameCheck := validation.IsDNS1123Subdomain
		if o.gvk.Kind == "Service" {
			nameCheck = validation.IsDNS1035Label
		}
		for _, msg := range nameCheck(meta.Name) {
			add("metadata.name %q: %s", meta.Name, msg)
		}
	}
	if meta.Namespace == "" {
		add("metadata.namespace is not set (helm template -n NAMESPACE sets it)")
	}
	addList(metavalidation.ValidateLabels(meta.Labels, field.NewPath("metadata", "labels")))
	addList(apivalidation.ValidateAnnotations(meta.Annotations, field.NewPath("metadata", "annotations")))

	switch t := o.typed.(type) {
	case *appsv1.Deployment:
		errs = append(errs, checkWorkload(t.Spec.Selector, &t.Spec.Template, all, o)...)
	case *appsv1.StatefulSet:
		errs = append(errs, checkWorkload(t.Spec.Selector, &t.Spec.Template, all, o)...)
		if t.Spec.ServiceName != "" && find(all, "v1", "Service", meta.Namespace, t.Spec.ServiceName) == nil {
			add("spec.serviceName %q: no such Service in the input", t.Spec.ServiceName)
		}
	case *corev1.Service:
		pods := selectPods(all, meta.Namespace, labels.SelectorFromSet(t.Spec.Selector))
		if len(t.Spec.Selector) == 0 || len(pods) == 0 {
			add("spec.selector %v selects no pod template in the input", t.Spec.Selector)
		}
		for i, p := range t.Spec.Ports {
			if p.TargetPort.Type == intstr.String {
				for _, pod := range pods {
					if !hasContainerPort(pod, p.TargetPort.StrVal) {
						add("spec.ports[%d].targetPort %q: no container port of that name in the selected pods", i, p.TargetPort.StrVal)
					}
				}
			}
		}
	case *corev1.ConfigMap:
		for key := range t.Data {
			for _, msg := range validation.IsConfigMapKey(key) {
				add("data key %q: %s", key, msg)
			}
		}
	case *policyv1.PodDisruptionBudget:
		if (t.Spec.MinAvailable == nil) == (t.Spec.MaxUnavailable == nil) {
			add("spec: exactly one of minAvailable and maxUnavailable must be set")
		}
		errs = append(errs, checkSelectsPods("spec.selector", t.Spec.Selector, all, meta.Namespace)...)
	case *networkingv1.NetworkPolicy:
		errs = append(errs, checkSelectsPods("spec.podSelector", &t.Spec.PodSelector, all, meta.Namespace)...)
		pods := selectPodsBy(all, meta.Namespace, &t.Spec.PodSelector)
		for i, rule := range t.Spec.Ingress {
			for j, p := range rule.Ports {
				if p.Port != nil && p.Port.Type == intstr.String {
					for _, pod := range pods {
						if !hasContainerPort(pod, p.Port.StrVal) {
							add("spec.ingress[%d].ports[%d].port %q: no container port of that name in the selected pods", i, j, p.Port.StrVal)
						}
					}
				}
			}
		}
	case *autoscalingv2.HorizontalPodAutoscaler:
		ref := t.Spec.ScaleTargetRef
		if find(all, ref.APIVersion, ref.Kind, meta.Namespace, ref.Name) == nil {
			add("spec.scaleTargetRef %s %s %q: no such object in the input", ref.APIVersion, ref.Kind, ref.Name)
		}
		if t.Spec.MinReplicas != nil && *t.Spec.MinReplicas > t.Spec.MaxReplicas {
			add("spec.minReplicas %d > spec.maxReplicas %d", *t.Spec.MinReplicas, t.Spec.MaxReplicas)
		}
	case *kedav1alpha1.ScaledObject:
		errs = append(errs, checkScaledObject(t, all)...)
	case *monitoringv1.ServiceMonitor:
		errs = append(errs, checkServiceMonitor(t, all)...)
	case *monitoringv1.PrometheusRule:
		if len(t.Spec.Groups) == 0 {
			add("spec.groups is empty")
		}
		for i, g := range t.Spec.Groups {
			if g.Name == "" {
				add("spec.groups[%d].name is required", i)
			}
			for j, r := range g.Rules {
				if (r.Alert == "") == (r.Record == "") {
					add("spec.groups[%d].rules[%d]: exactly one of alert and record must be set", i, j)
				}
				if r.Expr.String() == "" {
					add("spec.groups[%d].rules[%d].expr is empty", i, j)
				}
			}
		}
	}
	// Anything exfilwatch's chart renders must also carry the recommended labels.
	for _, key := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance"} {
		if _, ok := meta.Labels[key]; !ok {
			add("metadata.labels: missing %s", key)
		}
	}
	return errs
}

func checkWorkload(selector *metav1.LabelSelector, tmpl *corev1.PodTemplateSpec, all []*object, o *object) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if selector == nil || (len(selector.MatchLabels) == 0 && len(selector.MatchExpressions) == 0) {
		add("spec.selector is required")
	} else {
		sel, err := metav1.LabelSelectorAsSelector(selector)
		if err != nil {
			add("spec.selector: %v", err)
		} else if !sel.Matches(labels.Set(tmpl.Labels)) {
			add("spec.selector does not match spec.template.metadata.labels (the API server refuses this)")
		}
	}
	for _, e := range metavalidation.ValidateLabels(tmpl.Labels, field.NewPath("spec", "template", "metadata", "labels")) {
		errs = append(errs, e)
	}
	for _, e := range apivalidation.ValidateAnnotations(tmpl.Annotations, field.NewPath("spec", "template", "metadata", "annotations")) {
		errs = append(errs, e)
	}
	spec := &tmpl.Spec
	if len(spec.Containers) == 0 {
		add("spec.template.spec.containers is empty")
	}
	volumes := map[string]corev1.Volume{}
	for i, v := range spec.Volumes {
		for _, msg := range validation.IsDNS1123Label(v.Name) {
			add("spec.template.spec.volumes[%d].name %q: %s", i, v.Name, msg)
		}
		if _, dup := volumes[v.Name]; dup {
			add("spec.template.spec.volumes: duplicate name %q", v.Name)
		}
		volumes[v.Name] = v
		if v.ConfigMap != nil && find(all, "v1", "ConfigMap", o.meta.Namespace, v.ConfigMap.Name) == nil {
			add("spec.template.spec.volumes[%d]: ConfigMap %q is not part of the input", i, v.ConfigMap.Name)
		}
		if v.Secret != nil && v.Secret.SecretName == "" {
			add("spec.template.spec.volumes[%d]: secret.secretName is empty", i)
		}
	}
	if sa := spec.ServiceAccountName; sa != "" && sa != "default" && find(all, "v1", "ServiceAccount", o.meta.Namespace, sa) == nil {
		add("spec.template.spec.serviceAccountName %q: no such ServiceAccount in the input", sa)
	}
	for ci, c := range spec.Containers {
		path := fmt.Sprintf("spec.template.spec.containers[%d]", ci)
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			add("%s.name %q: %s", path, c.Name, msg)
		}
		if c.Image == "" {
			add("%s.image is required", path)
		}
		ports := map[string]bool{}
		for pi, p := range c.Ports {
			if p.Name != "" {
				for _, msg := range validation.IsValidPortName(p.Name) {
					add("%s.ports[%d].name %q: %s", path, pi, p.Name, msg)
				}
				ports[p.Name] = true
			}
			for _, msg := range validation.IsValidPortNum(int(p.ContainerPort)) {
				add("%s.ports[%d].containerPort: %s", path, pi, msg)
			}
		}
		for _, probe := range []struct {
			name  string
			probe *corev1.Probe
		}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}, {"startupProbe", c.StartupProbe}} {
			if probe.probe == nil || probe.probe.HTTPGet == nil {
				continue
			}
			port := probe.probe.HTTPGet.Port
			if port.Type == intstr.String && !ports[port.StrVal] {
				add("%s.%s.httpGet.port %q: no container port of that name", path, probe.name, port.StrVal)
			}
		}
		for ei, e := range c.Env {
			for _, msg := range validation.IsEnvVarName(e.Name) {
				add("%s.env[%d].name %q: %s", path, ei, e.Name, msg)
			}
			if e.Value != "" && e.ValueFrom != nil {
				add("%s.env[%d]: value and valueFrom are exclusive", path, ei)
			}
		}
		for mi, m := range c.VolumeMounts {
			if _, ok := volumes[m.Name]; !ok {
				add("%s.volumeMounts[%d]: volume %q is not declared", path, mi, m.Name)
			}
		}
	}
	return errs
}

func checkSelectsPods(path string, selector *metav1.LabelSelector, all []*object, namespace string) []error {
	if selector == nil {
		return []error{fmt.Errorf("%s is required", path)}
	}
	if _, err := metav1.LabelSelectorAsSelector(selector); err != nil {
		return []error{fmt.Errorf("%s: %v", path, err)}
	}
	if len(selectPodsBy(all, namespace, selector)) == 0 {
		return []error{fmt.Errorf("%s selects no pod template in the input", path)}
	}
	return nil
}

func checkScaledObject(so *kedav1alpha1.ScaledObject, all []*object) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	ns := so.Namespace
	if ref := so.Spec.ScaleTargetRef; ref == nil {
		add("spec.scaleTargetRef is required")
	} else {
		apiVersion := ref.APIVersion
		if apiVersion == "" {
			apiVersion = "apps/v1"
		}
		kind := ref.Kind
		if kind == "" {
			kind = "Deployment"
		}
		if find(all, apiVersion, kind, ns, ref.Name) == nil {
			add("spec.scaleTargetRef %s %s %q: no such object in the input", apiVersion, kind, ref.Name)
		}
	}
	// The checks of KEDA's admission webhook that need no cluster.
	if err := kedav1alpha1.ValidateTriggers(so.Spec.Triggers); err != nil {
		add("spec.triggers: %v", err)
	}
	if err := kedav1alpha1.CheckReplicaCountBoundsAreValid(so); err != nil {
		add("spec: %v", err)
	}
	if err := kedav1alpha1.CheckFallbackValid(so); err != nil {
		add("spec.fallback: %v", err)
	}
	// KEDA's webhook refuses a ScaledObject whose target another HorizontalPodAutoscaler already scales.
	if ref := so.Spec.ScaleTargetRef; ref != nil {
		for _, o := range all {
			if hpa, ok := o.typed.(*autoscalingv2.HorizontalPodAutoscaler); ok && hpa.Namespace == ns && hpa.Spec.ScaleTargetRef.Name == ref.Name {
				add("spec.scaleTargetRef %q is also the target of HorizontalPodAutoscaler %s: two autoscalers would fight", ref.Name, hpa.Name)
			}
		}
	}
	for i, trig := range so.Spec.Triggers {
		if trig.Type == "kafka" {
			for key := range trig.Metadata {
				if !kedaKafkaMetadata[key] {
					add("spec.triggers[%d].metadata: %q is not a parameter of KEDA's kafka scaler", i, key)
				}
			}
			for _, key := range []string{"bootstrapServers", "consumerGroup"} {
				if trig.Metadata[key] == "" {
					add("spec.triggers[%d].metadata.%s is required by the kafka scaler", i, key)
				}
			}
		}
		if ref := trig.AuthenticationRef; ref != nil {
			kind := ref.Kind
			if kind == "" {
				kind = "TriggerAuthentication"
			}
			if kind == "TriggerAuthentication" && find(all, "keda.sh/v1alpha1", kind, ns, ref.Name) == nil {
				add("spec.triggers[%d].authenticationRef %q: no such TriggerAuthentication in the input", i, ref.Name)
			}
		}
	}
	return errs
}

// kedaKafkaMetadata are the trigger metadata keys of KEDA's kafka scaler (KEDA 2.x documentation); the
// ScaledObject type keeps metadata as a string map, so a misspelt key would otherwise pass silently.
var kedaKafkaMetadata = map[string]bool{
	"bootstrapServers": true, "bootstrapServersFromEnv": true, "consumerGroup": true, "consumerGroupFromEnv": true,
	"topic": true, "topicFromEnv": true, "lagThreshold": true, "activationLagThreshold": true,
	"offsetResetPolicy": true, "allowIdleConsumers": true, "scaleToZeroOnInvalidOffset": true,
	"excludePersistentLag": true, "limitToPartitionsWithLag": true, "ensureEvenDistributionOfPartitions": true,
	"version": true, "partitionLimitation": true, "sasl": true, "tls": true, "unsafeSsl": true,
}

func checkServiceMonitor(sm *monitoringv1.ServiceMonitor, all []*object) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	if err != nil {
		return []error{fmt.Errorf("spec.selector: %v", err)}
	}
	namespaces := sm.Spec.NamespaceSelector.MatchNames
	if len(namespaces) == 0 && !sm.Spec.NamespaceSelector.Any {
		namespaces = []string{sm.Namespace}
	}
	var services []*corev1.Service
	for _, o := range all {
		svc, ok := o.typed.(*corev1.Service)
		if !ok || !(sm.Spec.NamespaceSelector.Any || contains(namespaces, svc.Namespace)) {
			continue
		}
		if sel.Matches(labels.Set(svc.Labels)) {
			services = append(services, svc)
		}
	}
	if len(services) == 0 {
		add("spec.selector selects no Service in the input")
	}
	for _, svc := range services {
		if sm.Spec.JobLabel != "" {
			if _, ok := svc.Labels[sm.Spec.JobLabel]; !ok {
				add("spec.jobLabel %q: Service %s has no such label", sm.Spec.JobLabel, svc.Name)
			}
		}
		for i, ep := range sm.Spec.Endpoints {
			if ep.Port == "" {
				continue
			}
			found := false
			for _, p := range svc.Spec.Ports {
				if p.Name == ep.Port {
					found = true
				}
			}
			if !found {
				add("spec.endpoints[%d].port %q: Service %s has no port of that name", i, ep.Port, svc.Name)
			}
		}
	}
	if len(sm.Spec.Endpoints) == 0 {
		add("spec.endpoints is empty")
	}
	return errs
}

func find(all []*object, apiVersion, kind, namespace, name string) *object {
	want := gvk(apiVersion, kind)
	for _, o := range all {
		if o.gvk == want && o.meta.Namespace == namespace && o.meta.Name == name {
			return o
		}
	}
	return nil
}

func podTemplates(all []*object, namespace string) []*corev1.PodTemplateSpec {
	var out []*corev1.PodTemplateSpec
	for _, o := range all {
		if o.meta.Namespace != namespace {
			continue
		}
		switch t := o.typed.(type) {
		case *appsv1.Deployment:
			out = append(out, &t.Spec.Template)
		case *appsv1.StatefulSet:
			out = append(out, &t.Spec.Template)
		}
	}
	return out
}

func selectPods(all []*object, namespace string, sel labels.Selector) []*corev1.PodTemplateSpec {
	var out []*corev1.PodTemplateSpec
	for _, pod := range podTemplates(all, namespace) {
		if sel.Matches(labels.Set(pod.Labels)) {
			out = append(out, pod)
		}
	}
	return out
}

func selectPodsBy(all []*object, namespace string, selector *metav1.LabelSelector) []*corev1.PodTemplateSpec {
	sel, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return nil
	}
	return selectPods(all, namespace, sel)
}

func hasContainerPort(pod *corev1.PodTemplateSpec, name string) bool {
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
