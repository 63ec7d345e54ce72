select
    "accountId"::text as "account_id",
    "visitorId"::text as "visitor_id",
    {{ epoch_ms('"visitorLastUpdatedAt"') }} as "visitor_last_updated_at",
    {{ synced() }}
from {{ source('tap_pendo', 'visitor_accounts') }}
