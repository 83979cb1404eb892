# Procurify account code -> PeopleSoft GL account (ACCOUNT_CF), for codes
# created in Procurify. Runs after accounts-to-procurify, so every value
# PeopleSoft has is in crosswalk `account` and is linked, not created.
#
# Input: an `account_codes` document of the Procurify connector
#   {id, code, description, account_type, active, ...}.
# New values are effective from $config.effdt (default 1900-01-01): PeopleSoft
# checks ChartFields as of the PO date, which may precede today.
# Crosswalks fed: account[code] = ACCOUNT, and account_from_procurify[code] =
# the Procurify id, which tells accounts-to-procurify not to write it back.
if .active == false then
  {key: .code, skip: "account code \(.code) is inactive in Procurify"}
elif ($xref.account // {})[.code] then
  {key: .code, link: .code}
else
  {key: .code,
   body: {setid: $config.setid, account: .code, descr: (.description // .code | .[0:30]), effdt: ($config.effdt // "1900-01-01"), eff_status: "A"},
   xref: [{table: "account", key: .code},
          {table: "account_from_procurify", key: .code, value: (.id | tostring)}]}
end
