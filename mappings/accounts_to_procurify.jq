# PeopleSoft GL account (ChartField ACCOUNT) -> Procurify account code.
# PeopleSoft is the master of the chart of accounts; the Procurify connector
# updates an existing code in place rather than creating a second one.
#
# Input: an `accounts` document of the PeopleSoft connector
#   {setid, account, descr, effdt, eff_status, last_modified}.
# Crosswalk fed: account[ACCOUNT] = ACCOUNT (PeopleSoft has this value).
if .eff_status != "A" then
  {key: .account, skip: "account \(.account) is inactive in PeopleSoft"}
else
  {key: .account,
   body: {code: .account, description: .descr, account_type: ($config.account_type // 2), active: true},
   xref: {table: "account", key: .account, value: .account}}
end
