select
    "designerHint"::text as "designer_hint",
    "pageId"::text as "page_id",
    {{ epoch_ms('"pageLastUpdatedAt"') }} as "page_last_updated_at",
    "parsedRule"::text as "parsed_rule",
    "rule"::text as "rule",
    {{ synced() }}
from {{ source('tap_pendo', 'page_rules') }}
