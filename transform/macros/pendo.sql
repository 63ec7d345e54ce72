{# Pendo sends every time as epoch milliseconds and uses 0 for "never": a UTC timestamp or null. #}
{% macro epoch_ms(expression) -%}
    (to_timestamp(nullif(({{ expression }})::double precision, 0) / 1000.0) at time zone 'UTC')
{%- endmacro %}

{# A number inside a jsonb column (`path` like 'auto,firstvisit'), null when absent or not a number. #}
{% macro json_number(column, path) -%}
    (case when jsonb_typeof({{ adapter.quote(column) }} #> '{ {{- path -}} }') = 'number'
        then ({{ adapter.quote(column) }} #>> '{ {{- path -}} }')::numeric end)
{%- endmacro %}

{% macro json_text(column, path) -%}
    ({{ adapter.quote(column) }} #>> '{ {{- path -}} }')
{%- endmacro %}

{% macro json_boolean(column, path) -%}
    (case when jsonb_typeof({{ adapter.quote(column) }} #> '{ {{- path -}} }') = 'boolean'
        then ({{ adapter.quote(column) }} #>> '{ {{- path -}} }')::boolean end)
{%- endmacro %}

{# The load time target-postgres records (add_record_metadata), as Fivetran's sync time. #}
{% macro synced() -%}
    ("_sdc_batched_at" at time zone 'UTC')::timestamp as "_fivetran_synced"
{%- endmacro %}

{# The common columns of dbt_pendo's page/feature/guide history relations. #}
{% macro entity_columns() -%}
    "id"::text as "id",
    "appId"::text as "app_id",
    "name"::text as "name",
    {{ epoch_ms('"createdAt"') }} as "created_at",
    {{ json_text('createdByUser', 'id') }} as "created_by_user_id",
    {{ epoch_ms('"lastUpdatedAt"') }} as "last_updated_at",
    {{ json_text('lastUpdatedByUser', 'id') }} as "last_updated_by_user_id",
    "rootVersionId"::text as "root_version_id",
    "stableVersionId"::text as "stable_version_id"
{%- endmacro %}
