{{/* Names and labels. */}}
{{- define "paysaga.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "paysaga.fullname" -}}
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

{{- define "paysaga.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "api"). */}}
{{- define "paysaga.selectorLabels" -}}
app.kubernetes.io/name: {{ include "paysaga.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "paysaga.labels" -}}
helm.sh/chart: {{ include "paysaga.chart" .root }}
{{ include "paysaga.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: paysaga
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end -}}

{{- define "paysaga.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "paysaga.configName" -}}
{{- printf "%s-config" (include "paysaga.fullname" .) -}}
{{- end -}}

{{/* The Secret every container reads its secret settings from: the user's or the chart's. */}}
{{- define "paysaga.secretName" -}}
{{- if .Values.existingSecret -}}
{{- .Values.existingSecret -}}
{{- else -}}
{{- printf "%s-secrets" (include "paysaga.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* The secret settings the processes refuse to start without (src/config.ts DEV_DEFAULTS). */}}
{{- define "paysaga.requiredSecrets" -}}
API_KEYS ADMIN_API_KEYS GATEWAY_WEBHOOK_SECRET WEBHOOK_ENCRYPTION_KEY CUSTOMER_TOKEN_SECRET RETURN_URL_SECRET
{{- end -}}

{{/* Set by the chart itself: not to be given in .Values.config. */}}
{{- define "paysaga.managedConfig" -}}
HOST PORT METRICS_PORT NODE_ENV TEMPORAL_ADDRESS TEMPORAL_NAMESPACE TEMPORAL_UI_URL DATABASE_URL
{{- end -}}

{{/*
Checks the values once, from the ConfigMap (always rendered): fails the render with a message
where the processes would refuse to start.
*/}}
{{- define "paysaga.validate" -}}
{{- $v := .Values -}}
{{- $_ := required "temporal.address is required: host:port of the Temporal frontend (TEMPORAL_ADDRESS)" $v.temporal.address -}}
{{- if not $v.existingSecret -}}
{{- if not $v.postgres.existingSecret -}}
{{- $_ := required "postgres.url is required (postgres://user:password@host:5432/db), or set postgres.existingSecret or existingSecret" $v.postgres.url -}}
{{- end -}}
{{- range $name := splitList " " (include "paysaga.requiredSecrets" .) -}}
{{- $_ := required (printf "secrets.%s is required: the api, worker and consumer refuse to start without it on a non-loopback HOST (src/config.ts); or set existingSecret" $name) (index $v.secrets $name) -}}
{{- end -}}
{{- range $name := list "CUSTOMER_TOKEN_SECRET" "RETURN_URL_SECRET" -}}
{{- if lt (len (index $v.secrets $name)) 32 -}}
{{- fail (printf "secrets.%s needs at least 32 characters (src/config.ts)" $name) -}}
{{- end -}}
{{- end -}}
{{- if ne (len (b64dec $v.secrets.WEBHOOK_ENCRYPTION_KEY)) 32 -}}
{{- fail "secrets.WEBHOOK_ENCRYPTION_KEY must be 32 bytes, base64 (openssl rand -base64 32)" -}}
{{- end -}}
{{- end -}}
{{- range $name := splitList " " (include "paysaga.managedConfig" .) -}}
{{- if hasKey $v.config $name -}}
{{- fail (printf "config.%s is set by the chart (see values.yaml: temporal, postgres, api.port, worker.metricsPort)" $name) -}}
{{- end -}}
{{- end -}}
{{- range $name, $_ := $v.config -}}
{{- if or (hasKey $v.secrets $name) (hasKey $v.extraSecretEnv $name) -}}
{{- fail (printf "config.%s is a secret: set it under secrets (or in existingSecret)" $name) -}}
{{- end -}}
{{- end -}}
{{- $sinks := splitList "," (default "outbox" $v.config.EVENT_SINKS | nospace) -}}
{{- if and $v.consumer.enabled (not (or (has "kafka" $sinks) (has "amqp" $sinks))) -}}
{{- fail "consumer.enabled needs config.EVENT_SINKS to name kafka or amqp: the consumer reads commands from those brokers" -}}
{{- end -}}
{{- if and (has "kafka" $sinks) (not $v.config.KAFKA_BROKERS) -}}
{{- fail "config.EVENT_SINKS names kafka: set config.KAFKA_BROKERS (host:port list)" -}}
{{- end -}}
{{- if and (has "amqp" $sinks) (not $v.existingSecret) (not $v.secrets.AMQP_URL) -}}
{{- fail "config.EVENT_SINKS names amqp: set secrets.AMQP_URL (amqp://user:password@host:5672/vhost)" -}}
{{- end -}}
{{- range $component := list "api" "worker" "consumer" -}}
{{- $c := index $v $component -}}
{{- $replicas := $c.replicas -}}
{{- if and (eq $component "api") $v.api.autoscaling.enabled -}}
{{- $replicas = $v.api.autoscaling.minReplicas -}}
{{- end -}}
{{- if and $c.pdb.enabled $c.pdb.minAvailable (not (kindIs "string" $c.pdb.minAvailable)) (le (int $replicas) (int $c.pdb.minAvailable)) -}}
{{- fail (printf "%s.pdb.minAvailable (%v) is not below its replicas (%v): no pod could ever be evicted and node drains would hang" $component $c.pdb.minAvailable $replicas) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Pod-level settings shared by every component: (dict "root" $ "values" .Values.api). */}}
{{- define "paysaga.podSpecCommon" -}}
{{- $root := .root -}}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if $root.Values.serviceAccountName }}
serviceAccountName: {{ $root.Values.serviceAccountName }}
{{- end }}
# The processes never call the Kubernetes API.
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with $root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Container settings shared by every process: (dict "root" $ "values" .Values.api), with an optional "env" list of the process's own. */}}
{{- define "paysaga.containerCommon" -}}
{{- $root := .root -}}
image: {{ include "paysaga.image" $root }}
imagePullPolicy: {{ $root.Values.image.pullPolicy }}
envFrom:
  - configMapRef:
      name: {{ include "paysaga.configName" $root }}
  - secretRef:
      name: {{ include "paysaga.secretName" $root }}
{{- $env := concat (include "paysaga.databaseEnv" $root | fromYamlArray) (.env | default list) $root.Values.extraEnv (.values.env | default list) }}
{{- with $env }}
env:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $root.Values.securityContext | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  {{- with $root.Values.extraVolumeMounts }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{/* DATABASE_URL from postgres.existingSecret when set (it wins over the envFrom Secret's). */}}
{{- define "paysaga.databaseEnv" -}}
{{- if .Values.postgres.existingSecret -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.postgres.existingSecret }}
      key: {{ .Values.postgres.existingSecretKey }}
{{- else -}}
[]
{{- end -}}
{{- end -}}

{{- define "paysaga.volumes" -}}
volumes:
  - name: tmp
    emptyDir:
      {{- with .Values.tmpVolume.sizeLimit }}
      sizeLimit: {{ . }}
      {{- end }}
  {{- with .Values.extraVolumes }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{/* Pod annotations: restart pods when the chart's ConfigMap or Secret changes. */}}
{{- define "paysaga.podAnnotations" -}}
{{- $root := .root -}}
checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
{{- if not $root.Values.existingSecret }}
checksum/secret: {{ include (print $root.Template.BasePath "/secret.yaml") $root | sha256sum }}
{{- end }}
{{- with $root.Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- with .values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "paysaga.pdb" -}}
{{- $root := .root -}}
{{- $pdb := .values.pdb -}}
{{- if $pdb.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "paysaga.fullname" $root }}-{{ .component }}
  labels:
    {{- include "paysaga.labels" . | nindent 4 }}
spec:
  {{- if $pdb.minAvailable }}
  minAvailable: {{ $pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ $pdb.maxUnavailable | default 1 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "paysaga.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}
