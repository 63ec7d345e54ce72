select
    {{ entity_columns() }},
    "color"::text as "color",
    "dirty"::boolean as "dirty",
    {{ json_text('group', 'id') }} as "group_id",
    {{ epoch_ms('"validThrough"') }} as "valid_through",
    {{ synced() }}
from {{ source('tap_pendo', 'pages') }}
