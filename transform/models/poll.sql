-- A poll appears once per version of its guide; dbt_pendo joins polls by id: the latest one.
select distinct on ("id")
    {{ json_text('attributes', 'display') }} as "attribute_display",
    {{ json_text('attributes', 'followUp') }} as "attribute_follow_up",
    {{ json_text('attributes', 'maxLength') }} as "attribute_max_length",
    {{ json_text('attributes', 'placeholder') }} as "attribute_placeholder",
    {{ json_text('attributes', 'type') }} as "attribute_type",
    "id"::text as "id",
    "question"::text as "question",
    {{ epoch_ms('"resetAt"') }} as "reset_at",
    {{ synced() }}
from {{ source('tap_pendo', 'polls') }}
order by "id", "guideLastUpdatedAt" desc
