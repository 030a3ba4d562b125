{{/* Names ---------------------------------------------------------------------------------------------- */}}

{{- define "exfilwatch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "exfilwatch.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "exfilwatch.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "exfilwatch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "exfilwatch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* app.kubernetes.io/part-of is fixed: the ServiceMonitor takes the Prometheus job label from it, and the
     alert rules select job="exfilwatch". */}}
{{- define "exfilwatch.labels" -}}
helm.sh/chart: {{ include "exfilwatch.chart" . }}
{{ include "exfilwatch.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: detector
app.kubernetes.io/part-of: exfilwatch
{{- end -}}

{{- define "exfilwatch.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "exfilwatch.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "exfilwatch.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "exfilwatch.terminationGracePeriodSeconds" -}}
{{- $drain := int .Values.kafka.drainTimeoutSeconds -}}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds -}}
{{- add $drain 30 -}}
{{- else -}}
{{- int .Values.terminationGracePeriodSeconds -}}
{{- end -}}
{{- end -}}

{{/* Paths inside the container. */}}
{{- define "exfilwatch.configDir" -}}/etc/exfilwatch{{- end -}}
{{- define "exfilwatch.recordKeyDir" -}}/var/run/secrets/exfilwatch/record-key{{- end -}}
{{- define "exfilwatch.kafkaTlsDir" -}}/var/run/secrets/exfilwatch/kafka-tls{{- end -}}

{{/* Validation: everything values.schema.json cannot express. Included by every template so that any
     `helm template -s` of a single file fails too. ------------------------------------------------------- */}}
{{- define "exfilwatch.validate" -}}
{{- $v := .Values -}}
{{- $hpa := $v.autoscaling.hpa.enabled -}}
{{- $keda := $v.autoscaling.keda.enabled -}}
{{- $partitions := int $v.kafka.inputPartitions -}}
{{- if and $hpa $keda -}}
{{- fail "autoscaling.hpa.enabled and autoscaling.keda.enabled are mutually exclusive: KEDA manages its own HorizontalPodAutoscaler, two autoscalers would fight over the replica count" -}}
{{- end -}}
{{- if and (not $hpa) (not $keda) (gt (int $v.replicaCount) $partitions) -}}
{{- fail (printf "replicaCount (%d) exceeds kafka.inputPartitions (%d): a consumer group member beyond the partition count gets no partitions" (int $v.replicaCount) $partitions) -}}
{{- end -}}
{{- if and $hpa (gt (int $v.autoscaling.hpa.maxReplicas) $partitions) -}}
{{- fail (printf "autoscaling.hpa.maxReplicas (%d) exceeds kafka.inputPartitions (%d)" (int $v.autoscaling.hpa.maxReplicas) $partitions) -}}
{{- end -}}
{{- if and $hpa (gt (int $v.autoscaling.hpa.minReplicas) (int $v.autoscaling.hpa.maxReplicas)) -}}
{{- fail "autoscaling.hpa.minReplicas must not exceed autoscaling.hpa.maxReplicas" -}}
{{- end -}}
{{- if and $keda (gt (int $v.autoscaling.keda.maxReplicaCount) $partitions) -}}
{{- fail (printf "autoscaling.keda.maxReplicaCount (%d) exceeds kafka.inputPartitions (%d)" (int $v.autoscaling.keda.maxReplicaCount) $partitions) -}}
{{- end -}}
{{- if and $keda (gt (int $v.autoscaling.keda.minReplicaCount) (int $v.autoscaling.keda.maxReplicaCount)) -}}
{{- fail "autoscaling.keda.minReplicaCount must not exceed autoscaling.keda.maxReplicaCount" -}}
{{- end -}}
{{- if not $v.recordKeySecret.existingSecret -}}
{{- fail "recordKeySecret.existingSecret is required: name an existing Secret holding the record-key hashing secret (>= 16 bytes)" -}}
{{- end -}}
{{- if and $v.kafka.sasl.enabled (not $v.kafka.sasl.existingSecret) -}}
{{- fail "kafka.sasl.existingSecret is required when kafka.sasl.enabled" -}}
{{- end -}}
{{- if ne (empty $v.kafka.tls.certKey) (empty $v.kafka.tls.keyKey) -}}
{{- fail "kafka.tls.certKey and kafka.tls.keyKey are set together (mutual TLS) or not at all" -}}
{{- end -}}
{{- if and $v.kafka.tls.certKey (not $v.kafka.tls.existingSecret) -}}
{{- fail "kafka.tls.existingSecret is required for mutual TLS (kafka.tls.certKey/keyKey)" -}}
{{- end -}}
{{- if and (not (kindIs "invalid" $v.terminationGracePeriodSeconds)) (le (int $v.terminationGracePeriodSeconds) (int $v.kafka.drainTimeoutSeconds)) -}}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be longer than kafka.drainTimeoutSeconds (%d), or SIGKILL cuts the drain short" (int $v.terminationGracePeriodSeconds) (int $v.kafka.drainTimeoutSeconds)) -}}
{{- end -}}
{{- $common := default dict $v.config.kafka.common -}}
{{- if or $v.kafka.sasl.enabled $v.kafka.tls.enabled -}}
{{- range $key := list "security.protocol" "sasl.mechanism" "sasl.mechanisms" "sasl.username" "sasl.password" "ssl.ca.location" "ssl.certificate.location" "ssl.key.location" -}}
{{- if hasKey $common $key -}}
{{- fail (printf "config.kafka.common.%q is set by the chart from kafka.sasl / kafka.tls; remove it from config.kafka.common" $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* TOML rendering ----------------------------------------------------------------------------------------
     Helm reads every YAML number as float64 and toToml would write 1000000 as 1000000.0, which the service's
     integer fields refuse; these helpers write whole numbers as integers (floats fields accept them). */}}

{{- define "exfilwatch.toml.key" -}}
{{- if regexMatch "^[A-Za-z0-9_-]+$" . -}}{{ . }}{{- else -}}{{ toJson . }}{{- end -}}
{{- end -}}

{{- define "exfilwatch.toml.value" -}}
{{- $v := . -}}
{{- if kindIs "string" $v -}}{{ toJson $v }}
{{- else if kindIs "bool" $v -}}{{ ternary "true" "false" $v }}
{{- else if or (kindIs "float64" $v) (kindIs "float32" $v) -}}
{{- if eq (float64 (int64 $v)) (float64 $v) -}}{{ int64 $v }}{{- else -}}{{ $v }}{{- end -}}
{{- else if or (kindIs "int" $v) (kindIs "int64" $v) (kindIs "int32" $v) (kindIs "uint64" $v) -}}{{ $v }}
{{- else if kindIs "slice" $v -}}
[{{- range $i, $item := $v -}}{{- if $i -}}, {{ end -}}{{- include "exfilwatch.toml.value" $item -}}{{- end -}}]
{{- else if kindIs "map" $v -}}
{ {{- $first := true -}}
{{- range $key := keys $v | sortAlpha -}}
{{- $item := index $v $key -}}
{{- if not (kindIs "invalid" $item) -}}
{{- if not $first -}}, {{ end -}}{{- $first = false -}}
{{ include "exfilwatch.toml.key" $key }} = {{ include "exfilwatch.toml.value" $item -}}
{{- end -}}
{{- end -}} }
{{- else -}}
{{- fail (printf "cannot render %v (%s) as TOML" $v (kindOf $v)) -}}
{{- end -}}
{{- end -}}

{{/* A table: scalar and array keys first, then one [path.sub] header per sub-table. Arg: dict path, table. */}}
{{- define "exfilwatch.toml.table" -}}
{{- $path := .path -}}
{{- $table := .table -}}
{{- range $key := keys $table | sortAlpha -}}
{{- $item := index $table $key -}}
{{- if not (or (kindIs "invalid" $item) (kindIs "map" $item)) }}
{{ include "exfilwatch.toml.key" $key }} = {{ include "exfilwatch.toml.value" $item }}
{{- end -}}
{{- end -}}
{{- range $key := keys $table | sortAlpha -}}
{{- $item := index $table $key -}}
{{- if kindIs "map" $item -}}
{{- $sub := ternary (include "exfilwatch.toml.key" $key) (printf "%s.%s" $path (include "exfilwatch.toml.key" $key)) (eq $path "") }}

[{{ $sub }}]
{{- include "exfilwatch.toml.table" (dict "path" $sub "table" $item) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The service configuration: values.config plus the keys the chart owns. */}}
{{- define "exfilwatch.config" -}}
{{- $v := .Values -}}
{{- $config := deepCopy (default dict $v.config) -}}
{{- $kafka := deepCopy (default dict $config.kafka) -}}
{{- $_ := set $kafka "bootstrap_servers" $v.kafka.bootstrapServers -}}
{{- $_ := set $kafka "drain_timeout" (printf "%ds" (int $v.kafka.drainTimeoutSeconds)) -}}
{{- $common := deepCopy (default dict $kafka.common) -}}
{{- if $v.kafka.sasl.enabled -}}
{{- $_ := set $common "security.protocol" (ternary "SASL_SSL" "SASL_PLAINTEXT" $v.kafka.tls.enabled) -}}
{{- $_ := set $common "sasl.mechanism" $v.kafka.sasl.mechanism -}}
{{- else if $v.kafka.tls.enabled -}}
{{- $_ := set $common "security.protocol" "SSL" -}}
{{- end -}}
{{- if and $v.kafka.tls.enabled $v.kafka.tls.existingSecret -}}
{{- $_ := set $common "ssl.ca.location" (printf "%s/%s" (include "exfilwatch.kafkaTlsDir" .) $v.kafka.tls.caKey) -}}
{{- if $v.kafka.tls.certKey -}}
{{- $_ := set $common "ssl.certificate.location" (printf "%s/%s" (include "exfilwatch.kafkaTlsDir" .) $v.kafka.tls.certKey) -}}
{{- $_ := set $common "ssl.key.location" (printf "%s/%s" (include "exfilwatch.kafkaTlsDir" .) $v.kafka.tls.keyKey) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $kafka "common" $common -}}
{{- $_ := set $config "kafka" $kafka -}}
{{- $_ := set $config "http" (dict "listen" (printf "0.0.0.0:%d" (int $v.metrics.port))) -}}
{{- $_ := set $config "privacy" (dict "record_key_secret_file" (printf "%s/%s" (include "exfilwatch.recordKeyDir" .) $v.recordKeySecret.key)) -}}
# Rendered by the exfilwatch Helm chart from values.config; see config/exfilwatch.example.toml.
# Environment overrides (EXFILWATCH__SECTION__KEY) set in the pod: kafka.group_instance_id (static membership)
# and the SASL credentials (kafka.common."sasl.username" / "sasl.password").
{{- include "exfilwatch.toml.table" (dict "path" "" "table" $config) }}
{{ end -}}
