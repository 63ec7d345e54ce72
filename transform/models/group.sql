-- Product areas, one row per version in tap-pendo; dbt_pendo joins them by id: the latest one.
select distinct on ("id")
    "appId"::text as "app_id",
    "color"::text as "color",
    {{ epoch_ms('"createdAt"') }} as "created_at",
    {{ json_text('createdByUser', 'id') }} as "created_by_user_id",
    "description"::text as "description",
    "id"::text as "id",
    {{ epoch_ms('"lastUpdatedAt"') }} as "last_updated_at",
    {{ json_text('lastUpdatedByUser', 'id') }} as "last_updated_by_user_id",
    "length"::integer as "length",
    "name"::text as "name",
    {{ synced() }}
from {{ source('tap_pendo', 'product_areas') }}
order by "id", "lastUpdatedAt" desc nulls last
