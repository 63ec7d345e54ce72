select
    "guideId"::text as "guide_id",
    {{ epoch_ms('"guideLastUpdatedAt"') }} as "guide_last_updated_at",
    "id"::text as "step_id",
    {{ synced() }}
from {{ source('tap_pendo', 'guide_steps') }}
