# PeopleSoft GL account (ChartField ACCOUNT) -> Procurify account code.
# PeopleSoft is the master of the chart of accounts; the Procurify connector
# updates an existing code in place rather than creating a second one.
#
# Input: an `accounts` document of the PeopleSoft connector
#   {setid, account, descr, effdt, eff_status, last_modified}.
# Crosswalk fed: account[ACCOUNT] = ACCOUNT (PeopleSoft has this value).
# A code created in Procurify and copied to PeopleSoft (crosswalk
# account_from_procurify, fed by accounts-to-peoplesoft) is linked, not
# written back: no echo write, and Procurify's description is not replaced
# by PeopleSoft's 30-character DESCR.
if .eff_status != "A" then
  {key: .account, skip: "account \(.account) is inactive in PeopleSoft"}
elif ($xref.account_from_procurify // {})[.account] then
  {key: .account, link: $xref.account_from_procurify[.account]}
else
  {key: .account,
   body: {code: .account, description: .descr, account_type: ($config.account_type // 2), active: true},
   xref: {table: "account", key: .account, value: .account}}
end
